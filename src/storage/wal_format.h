// The write-ahead log's on-disk constants, shared by WalWriter and WalReader
// (and the manifest, which uses the same format). Owned by the storage-io
// engineer; the full description with a worked example is
// docs/formats/wal.md. Every value here is FROZEN: logs written by one
// version must be read by every later one. Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::storage::wal {

// Fragment types. FROZEN on-disk values. kZeroType is never written: a zero
// byte here means a pre-zeroed (never written) region, i.e. the end of the log.
enum RecordType : uint8_t {
  kZeroType = 0,
  kFullType = 1,    // a whole record in one fragment
  kFirstType = 2,   // first fragment of a record split across blocks
  kMiddleType = 3,  // interior fragment
  kLastType = 4,    // final fragment
};
constexpr uint8_t kMaxRecordType = kLastType;

// The file is a sequence of blocks of this size; a fragment never crosses a
// block boundary, so a reader can resynchronise at the next block after a
// corrupt fragment. 32 KiB: big enough that headers and padding cost < 0.1%,
// small enough that one corrupt fragment loses at most 32 KiB. FROZEN.
constexpr size_t kBlockSize = 32 * 1024;

// Fragment header, little-endian:
//   checksum   fixed32  Checksum32(type byte || log_number || payload)
//   length     fixed16  payload bytes
//   type       uint8    RecordType
//   log_number fixed32  low 32 bits of the log file's number
// type and log_number sit next to each other so the checksum's first input is
// one contiguous 5-byte span of the header. FROZEN.
constexpr size_t kChecksumOffset = 0;
constexpr size_t kLengthOffset = 4;
constexpr size_t kTypeOffset = 6;
constexpr size_t kLogNumberOffset = 7;
constexpr size_t kHeaderSize = 4 + 2 + 1 + 4;
// The checksum covers header bytes [kTypeOffset, kHeaderSize) then the payload.
constexpr size_t kChecksummedHeaderBytes = kHeaderSize - kTypeOffset;

static_assert(kLogNumberOffset + 4 == kHeaderSize);
static_assert(kTypeOffset + 1 == kLogNumberOffset);
// The length field must be able to describe the largest fragment.
static_assert(kBlockSize - kHeaderSize <= 0xffff);

}  // namespace dkv::storage::wal

// WalWriter (see wal_writer.h and docs/formats/wal.md). Owned by the
// storage-io engineer.
#include "storage/wal_writer.h"

#include <algorithm>

#include "common/coding.h"
#include "common/hash.h"

namespace dkv::storage {

using wal::kBlockSize;
using wal::kHeaderSize;

WalWriter::WalWriter(WritableFile* dest, uint64_t log_number, uint64_t dest_length)
    : dest_(dest),
      log_number_(log_number),
      size_(dest_length),
      block_offset_(dest_length % kBlockSize) {
  DKV_ASSERT(dest != nullptr);
}

Status WalWriter::AddRecord(std::string_view record) {
  DKV_RETURN_IF_ERROR(error_);
  const char* ptr = record.data();
  size_t left = record.size();
  // An empty record is still one (empty) FULL fragment, hence do/while.
  bool begin = true;
  do {
    DKV_DASSERT(block_offset_ <= kBlockSize);
    const size_t leftover = kBlockSize - block_offset_;
    if (leftover < kHeaderSize) {
      // No room for a header: pad the block tail with zeroes, which the
      // reader skips because it never parses a header from < kHeaderSize bytes.
      if (leftover > 0) {
        static constexpr char kZeroes[kHeaderSize] = {};
        Status s = dest_->Append(std::string_view(kZeroes, leftover));
        if (!s.ok()) return error_ = s;
        size_ += leftover;
      }
      block_offset_ = 0;
    }
    DKV_ASSERT(kBlockSize - block_offset_ >= kHeaderSize);
    const size_t avail = kBlockSize - block_offset_ - kHeaderSize;
    const size_t fragment_length = std::min(left, avail);
    const bool end = (left == fragment_length);
    wal::RecordType type;
    if (begin && end) {
      type = wal::kFullType;
    } else if (begin) {
      type = wal::kFirstType;
    } else if (end) {
      type = wal::kLastType;
    } else {
      type = wal::kMiddleType;
    }
    Status s = EmitFragment(type, ptr, fragment_length);
    if (!s.ok()) return error_ = s;
    ptr += fragment_length;
    left -= fragment_length;
    begin = false;
  } while (left > 0);
  return Status::OK();
}

Status WalWriter::Flush() {
  DKV_RETURN_IF_ERROR(error_);
  Status s = dest_->Flush();
  if (!s.ok()) error_ = s;
  return s;
}

Status WalWriter::StartWriteBack() {
  DKV_RETURN_IF_ERROR(Flush());
  dest_->StartWriteBack();
  return Status::OK();
}

Status WalWriter::Sync() {
  DKV_RETURN_IF_ERROR(error_);
  Status s = dest_->Flush();
  if (s.ok()) s = dest_->Sync();
  if (!s.ok()) error_ = s;
  return s;
}

Status WalWriter::EmitFragment(wal::RecordType type, const char* data, size_t length) {
  DKV_ASSERT(length <= 0xffff);
  DKV_ASSERT(block_offset_ + kHeaderSize + length <= kBlockSize);
  char header[kHeaderSize];
  header[wal::kLengthOffset] = static_cast<char>(length & 0xff);
  header[wal::kLengthOffset + 1] = static_cast<char>(length >> 8);
  header[wal::kTypeOffset] = static_cast<char>(type);
  EncodeFixed32(header + wal::kLogNumberOffset, static_cast<uint32_t>(log_number_));
  const uint32_t crc =
      Checksum32(std::string_view(header + wal::kTypeOffset, wal::kChecksummedHeaderBytes),
                 std::string_view(data, length));
  EncodeFixed32(header + wal::kChecksumOffset, crc);

  // Two appends into the file's user-space buffer; no syscall unless it fills.
  DKV_RETURN_IF_ERROR(dest_->Append(std::string_view(header, kHeaderSize)));
  DKV_RETURN_IF_ERROR(dest_->Append(std::string_view(data, length)));
  block_offset_ += kHeaderSize + length;
  size_ += kHeaderSize + length;
  return Status::OK();
}

}  // namespace dkv::storage

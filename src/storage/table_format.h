// SSTable on-disk format: block handles, the footer and the block trailer,
// and ReadBlock, which fetches one block, verifies its checksum and
// decompresses it. The layout is described in docs/formats/sstable.md; every
// constant in this file is on disk and therefore frozen. Owned by the table
// engineer. Stateless functions and value types; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/env.h"
#include "storage/limits.h"
#include "storage/options.h"

namespace dkv::storage {

// Frozen: the last 8 bytes of every table ("dkvsst01" read as little-endian).
constexpr uint64_t kTableMagicNumber = 0x3130747373766b64ull;
// Frozen: the format version written in the footer. Readers refuse others.
constexpr uint32_t kTableFormatVersion = 1;

// Frozen: every block is followed by a 5-byte trailer:
//   compression type (1 byte) | fixed32 Checksum32(block bytes, type byte).
constexpr size_t kBlockTrailerSize = 5;

// Frozen: the metaindex key of the filter block is this prefix + the filter
// policy's Name(); a reader with a different policy finds no filter.
inline constexpr char kFilterMetaPrefix[] = "filter.";

// The largest uncompressed block a reader will materialise. A builder never
// compresses a block larger than this (it stores it raw), so a larger size
// field in a compressed block can only be corruption; the bound keeps a
// damaged size field from allocating gigabytes. 64 MiB leaves room for very
// large single values while staying far below what would hurt a server.
constexpr size_t kMaxUncompressedBlockBytes = size_t{64} << 20;

// The largest TableOptions::block_size a builder accepts. A block is cut once
// it reaches block_size, so it holds at most block_size plus one entry; with
// this cap and the engine's key and value limits, every raw block a builder
// writes stays within what ReadBlock accepts (kMaxUncompressedBlockBytes).
constexpr size_t kMaxBlockSizeOption = size_t{16} << 20;
static_assert(kMaxBlockSizeOption + kMaxKeySize + kMaxValueSize + 64 <= kMaxUncompressedBlockBytes,
              "a block of the largest block_size plus one largest entry must stay readable");

// Where a block lives in the file: offset and size of its contents (the
// trailer follows and is not counted in size).
class BlockHandle {
 public:
  // Two varint64s at most.
  static constexpr size_t kMaxEncodedLength = 2 * 10;

  BlockHandle() = default;
  BlockHandle(uint64_t offset, uint64_t size) : offset_(offset), size_(size) {}

  uint64_t offset() const { return offset_; }
  uint64_t size() const { return size_; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  void set_size(uint64_t size) { size_ = size; }

  void EncodeTo(std::string* dst) const;
  // Decodes from the front of *input and advances it. False if malformed.
  bool DecodeFrom(std::string_view* input);

 private:
  uint64_t offset_ = 0;
  uint64_t size_ = 0;
};

// The fixed-size tail of every table:
//   metaindex handle | index handle | zero padding to 40 bytes |
//   fixed32 format version | fixed32 Checksum32(first 44 bytes) | fixed64 magic
class Footer {
 public:
  static constexpr size_t kHandlesLength = 2 * BlockHandle::kMaxEncodedLength;
  static constexpr size_t kEncodedLength = kHandlesLength + 4 + 4 + 8;
  static_assert(kEncodedLength == 56, "footer size is frozen");

  const BlockHandle& metaindex_handle() const { return metaindex_handle_; }
  const BlockHandle& index_handle() const { return index_handle_; }
  void set_metaindex_handle(const BlockHandle& h) { metaindex_handle_ = h; }
  void set_index_handle(const BlockHandle& h) { index_handle_ = h; }

  // Appends exactly kEncodedLength bytes.
  void EncodeTo(std::string* dst) const;
  // REQUIRES: input.size() == kEncodedLength. Corruption (naming file_name)
  // on a bad magic number, checksum or handle; NotSupported on an unknown
  // format version.
  Status DecodeFrom(std::string_view input, std::string_view file_name);

 private:
  BlockHandle metaindex_handle_;
  BlockHandle index_handle_;
};

// The uncompressed bytes of one block: owned (heap holds data), or borrowed
// from a file with RandomAccessFile::StableResults() (heap is null, data
// points into the file's memory and is valid while the file lives).
struct BlockContents {
  std::unique_ptr<char[]> heap;  // owns data unless borrowed
  std::string_view data;
  // True if data is the file's own bytes, read in place: re-reading such a
  // block costs no I/O and no copy, so it is not worth a block cache entry.
  bool borrowed = false;
};

// Reads the block at handle from file, checks its trailer checksum when
// verify_checksum, and decompresses it. If file->StableResults(), an
// uncompressed block is returned borrowed (no allocation, no copy) and a
// compressed one is decompressed straight from the file's memory. Corruption
// naming file_name and the block offset on a short read, checksum mismatch,
// unknown compression type or failed decompression; the file's own error on
// an I/O failure.
Status ReadBlock(const RandomAccessFile* file, std::string_view file_name, bool verify_checksum,
                 const BlockHandle& handle, BlockContents* result);

// "Corruption: <file_name>: <what> at <offset>"
Status BlockCorruption(std::string_view file_name, std::string_view what, uint64_t offset);

}  // namespace dkv::storage

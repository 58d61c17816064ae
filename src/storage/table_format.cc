#include "storage/table_format.h"

#include <cstring>

#include "common/coding.h"
#include "common/hash.h"
#include "storage/compression.h"

namespace dkv::storage {

void BlockHandle::EncodeTo(std::string* dst) const {
  PutVarint64(dst, offset_);
  PutVarint64(dst, size_);
}

bool BlockHandle::DecodeFrom(std::string_view* input) {
  return GetVarint64(input, &offset_) && GetVarint64(input, &size_);
}

void Footer::EncodeTo(std::string* dst) const {
  const size_t start = dst->size();
  metaindex_handle_.EncodeTo(dst);
  index_handle_.EncodeTo(dst);
  dst->resize(start + kHandlesLength, '\0');
  PutFixed32(dst, kTableFormatVersion);
  PutFixed32(dst, Checksum32(std::string_view(dst->data() + start, kHandlesLength + 4)));
  PutFixed64(dst, kTableMagicNumber);
  DKV_ASSERT(dst->size() == start + kEncodedLength);
}

Status Footer::DecodeFrom(std::string_view input, std::string_view file_name) {
  DKV_ASSERT(input.size() == kEncodedLength);
  const char* p = input.data();
  if (DecodeFixed64(p + kHandlesLength + 8) != kTableMagicNumber) {
    return Status::Corruption(file_name, "not an sstable (bad magic number in footer)");
  }
  const uint32_t stored = DecodeFixed32(p + kHandlesLength + 4);
  if (stored != Checksum32(input.substr(0, kHandlesLength + 4))) {
    return Status::Corruption(file_name, "footer checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(p + kHandlesLength);
  if (version != kTableFormatVersion) {
    return Status::NotSupported(file_name,
                                "sstable format version " + std::to_string(version) + " unknown");
  }
  std::string_view handles = input.substr(0, kHandlesLength);
  if (!metaindex_handle_.DecodeFrom(&handles) || !index_handle_.DecodeFrom(&handles)) {
    return Status::Corruption(file_name, "bad block handle in footer");
  }
  return Status::OK();
}

Status BlockCorruption(std::string_view file_name, std::string_view what, uint64_t offset) {
  std::string msg(what);
  msg += " at ";
  msg += std::to_string(offset);
  return Status::Corruption(file_name, msg);
}

Status ReadBlock(const RandomAccessFile* file, std::string_view file_name, bool verify_checksum,
                 const BlockHandle& handle, BlockContents* result) {
  // No block TableBuilder writes is larger (see kMaxBlockSizeOption, and a
  // compressed block is smaller than its raw form): refuse before allocating.
  if (handle.size() > kMaxUncompressedBlockBytes) {
    return BlockCorruption(file_name, "block handle size too large", handle.offset());
  }
  const size_t n = static_cast<size_t>(handle.size());
  // A file with stable results is read in place: no buffer at all.
  // Otherwise not value-initialised: every byte is overwritten by the read.
  const bool in_place = file->StableResults();
  std::unique_ptr<char[]> buf(in_place ? nullptr : new char[n + kBlockTrailerSize]);
  std::string_view got;
  Status s = file->Read(handle.offset(), n + kBlockTrailerSize, &got, buf.get());
  if (!s.ok()) return s.WithContext(file_name);
  if (got.size() != n + kBlockTrailerSize) {
    return BlockCorruption(file_name, "truncated block read", handle.offset());
  }
  if (!in_place && got.data() != buf.get()) std::memcpy(buf.get(), got.data(), got.size());
  const char* data = in_place ? got.data() : buf.get();
  const char type_byte = data[n];
  if (verify_checksum) {
    const uint32_t stored = DecodeFixed32(data + n + 1);
    // The type byte directly follows the block, so one-shot XXH3 over both
    // equals the builder's two-part checksum and skips the streaming state.
    if (stored != Checksum32(std::string_view(data, n + 1))) {
      return BlockCorruption(file_name, "block checksum mismatch", handle.offset());
    }
  }
  switch (static_cast<CompressionType>(type_byte)) {
    case CompressionType::kNone:
      result->data = std::string_view(data, n);
      result->heap = std::move(buf);
      result->borrowed = in_place;
      return Status::OK();
    case CompressionType::kZstd:
    case CompressionType::kLz4: {
      std::unique_ptr<char[]> out;
      size_t out_size = 0;
      s = UncompressBlock(static_cast<CompressionType>(type_byte), std::string_view(data, n),
                          kMaxUncompressedBlockBytes, &out, &out_size);
      if (!s.ok()) {
        return BlockCorruption(file_name, s.message(), handle.offset());
      }
      result->data = std::string_view(out.get(), out_size);
      result->heap = std::move(out);
      result->borrowed = false;
      return Status::OK();
    }
  }
  return BlockCorruption(
      file_name, "unknown compression type " + std::to_string(static_cast<uint8_t>(type_byte)),
      handle.offset());
}

}  // namespace dkv::storage

#include "storage/compression.h"

#include <lz4.h>
#include <zstd.h>

#include "common/coding.h"
#include "storage/table_format.h"

namespace dkv::storage {

bool CompressBlock(CompressionType type, std::string_view input, std::string* output) {
  output->clear();
  if (input.size() > kMaxUncompressedBlockBytes) return false;
  PutVarint32(output, static_cast<uint32_t>(input.size()));
  const size_t header = output->size();
  switch (type) {
    case CompressionType::kNone:
      return false;
    case CompressionType::kZstd: {
      const size_t bound = ZSTD_compressBound(input.size());
      output->resize(header + bound);
      const size_t n = ZSTD_compress(output->data() + header, bound, input.data(), input.size(),
                                     kZstdBlockLevel);
      if (ZSTD_isError(n)) return false;
      output->resize(header + n);
      return true;
    }
    case CompressionType::kLz4: {
      const int bound = LZ4_compressBound(static_cast<int>(input.size()));
      if (bound <= 0) return false;
      output->resize(header + static_cast<size_t>(bound));
      const int n = LZ4_compress_default(input.data(), output->data() + header,
                                         static_cast<int>(input.size()), bound);
      if (n <= 0) return false;
      output->resize(header + static_cast<size_t>(n));
      return true;
    }
  }
  return false;
}

Status UncompressBlock(CompressionType type, std::string_view input, size_t max_size,
                       std::unique_ptr<char[]>* heap, size_t* size) {
  uint32_t raw_size = 0;
  if (!GetVarint32(&input, &raw_size)) {
    return Status::Corruption("compressed block", "bad uncompressed size field");
  }
  if (raw_size > max_size) {
    return Status::Corruption("compressed block",
                              "uncompressed size " + std::to_string(raw_size) + " above limit");
  }
  // lz4 cannot expand by more than 255x; a larger claim is corruption.
  if (type == CompressionType::kLz4 && raw_size > input.size() * 255 + 16) {
    return Status::Corruption("compressed block", "uncompressed size implausible for lz4");
  }
  // +1 so a zero-length block still gets a valid allocation.
  std::unique_ptr<char[]> out(new char[raw_size + 1]);  // not zeroed: fully written
  switch (type) {
    case CompressionType::kZstd: {
      const size_t n = ZSTD_decompress(out.get(), raw_size, input.data(), input.size());
      if (ZSTD_isError(n) || n != raw_size) {
        return Status::Corruption("compressed block", "zstd decompression failed");
      }
      break;
    }
    case CompressionType::kLz4: {
      const int n = LZ4_decompress_safe(input.data(), out.get(), static_cast<int>(input.size()),
                                        static_cast<int>(raw_size));
      if (n < 0 || static_cast<uint32_t>(n) != raw_size) {
        return Status::Corruption("compressed block", "lz4 decompression failed");
      }
      break;
    }
    case CompressionType::kNone:
      return Status::Corruption("compressed block", "not compressed");
  }
  *heap = std::move(out);
  *size = raw_size;
  return Status::OK();
}

}  // namespace dkv::storage

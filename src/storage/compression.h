// Block compression for SSTables: zstd and lz4 (the Debian system libraries)
// behind one small interface. A compressed block is stored as
//   varint32 uncompressed size | compressor output
// so the reader can allocate exactly once and refuse absurd sizes before
// allocating. Owned by the table engineer. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/options.h"

namespace dkv::storage {

// zstd level used for blocks: level 1 is the fast end, close to lz4 in speed
// with a better ratio; blocks are small, so higher levels gain little.
constexpr int kZstdBlockLevel = 1;

// Compresses input with type into *output (replacing its contents). Returns
// false if type is kNone, the library failed, or input is too large
// (> kMaxUncompressedBlockBytes); the caller then stores the block raw.
bool CompressBlock(CompressionType type, std::string_view input, std::string* output);

// Decompresses a block written by CompressBlock. On success *heap owns
// exactly *size bytes of output. Corruption (without location; the caller
// adds it) if the size field is malformed or above max_size, if the library
// reports an error, or if the output length differs from the size field.
Status UncompressBlock(CompressionType type, std::string_view input, size_t max_size,
                       std::unique_ptr<char[]>* heap, size_t* size);

}  // namespace dkv::storage

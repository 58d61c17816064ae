// Hashing and checksums, all from xxHash (XXH3). Checksums guard every record
// and block on disk and every frame on the wire; Hash64 places keys on the
// consistent-hash ring and in bloom filters. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

namespace dkv {

// 64-bit XXH3 of data with a seed. Stable across versions of xxHash >= 0.8:
// values are persisted (bloom filters, ring positions), so never change it.
uint64_t Hash64(std::string_view data, uint64_t seed = 0);

// 32-bit checksum: the low 32 bits of XXH3-64. Persisted; frozen.
uint32_t Checksum32(std::string_view data);

// Checksum of the concatenation a || b without copying (for "type byte + payload").
uint32_t Checksum32(std::string_view a, std::string_view b);

}  // namespace dkv

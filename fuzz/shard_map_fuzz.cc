// Fuzz target: arbitrary bytes as an encoded ShardMap. Decoding must never
// crash, read out of bounds or allocate without bound, and must fail only with
// Corruption; whatever decodes must re-encode to the same bytes (the encoding
// is canonical) and build a ring that maps a key to one of its shards.
// Links dkv_sharding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "sharding/shard_map.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto map = dkv::sharding::ShardMap::Decode(input);
  if (!map.ok()) {
    DKV_ASSERT(map.status().IsCorruption());
    return 0;
  }
  DKV_ASSERT(map->Encode() == input);
  const dkv::sharding::HashRing ring = map->BuildRing();
  auto shard = ring.ShardFor(input);
  DKV_ASSERT(shard.ok() == !map->shards().empty());
  if (shard.ok()) DKV_ASSERT(map->Find(*shard) != nullptr);
  return 0;
}

// Fuzz target: arbitrary bytes as the arguments of an "ADMIN META" request
// (a shard map change a peer sends the metadata leader), split at spaces.
// Parsing must never crash and fail only with InvalidArgument; a parsed change
// must survive its text form; applying it to a small map must either fail
// with NotFound/InvalidArgument and leave the map untouched, or give a map
// that encodes and decodes to itself, and applying it a second time must
// change nothing (retries are free). Links dkv_sharding.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "sharding/metadata.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dkv::sharding;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> args;
  while (args.size() < 8) {
    const size_t space = input.find(' ');
    args.emplace_back(input.substr(0, space));
    if (space == std::string_view::npos) break;
    input.remove_prefix(space + 1);
  }
  auto change = MapChange::FromArgs(args);
  if (!change.ok()) {
    DKV_ASSERT(change.status().IsInvalidArgument());
    return 0;
  }
  auto again = MapChange::FromArgs(change->ToArgs());
  DKV_ASSERT(again.ok());
  DKV_ASSERT(again.value() == change.value());

  ShardMap map(4);
  DKV_ASSERT(map.AddShard(0, {1, 2, 3}).ok());
  DKV_ASSERT(map.AddShard(1, {2}).ok());
  DKV_ASSERT(map.AddShard(7, {1, 2, 3, 4, 5, 6, 7}).ok());
  const ShardMap before = map;
  auto applied = ApplyMapChange(&map, change.value());
  if (!applied.ok()) {
    DKV_ASSERT(applied.status().IsNotFound() || applied.status().IsInvalidArgument());
    DKV_ASSERT(map == before);
    return 0;
  }
  DKV_ASSERT(applied.value() == (map.version() != before.version()));
  auto decoded = ShardMap::Decode(map.Encode());
  DKV_ASSERT(decoded.ok());
  DKV_ASSERT(decoded.value() == map);
  const ShardMap once = map;
  auto twice = ApplyMapChange(&map, change.value());
  DKV_ASSERT(twice.ok());
  DKV_ASSERT(!twice.value());
  DKV_ASSERT(map == once);
  return 0;
}

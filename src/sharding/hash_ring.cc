#include "sharding/hash_ring.h"

#include <algorithm>
#include <string>

#include "common/assert.h"
#include "common/hash.h"

namespace dkv::sharding {

HashRing::HashRing(uint32_t vnodes_per_shard) : vnodes_per_shard_(vnodes_per_shard) {
  DKV_ASSERT(vnodes_per_shard >= 1);
  DKV_ASSERT(vnodes_per_shard <= kMaxVnodesPerShard);
}

uint64_t HashRing::VnodePosition(ShardId id, uint32_t vnode) {
  const std::string name = "shard-" + std::to_string(id) + "#" + std::to_string(vnode);
  return Hash64(name, 0);
}

uint64_t HashRing::KeyPosition(std::string_view key) { return Hash64(key, 0); }

bool HashRing::Contains(ShardId id) const {
  return std::binary_search(shards_.begin(), shards_.end(), id);
}

Status HashRing::AddShard(ShardId id) {
  if (Contains(id)) {
    return Status::InvalidArgument("hash ring", "shard " + std::to_string(id) + " already present");
  }
  if (shards_.size() >= kMaxShards) {
    return Status::ResourceExhausted(
        "hash ring", "already " + std::to_string(kMaxShards) + " shards (kMaxShards)");
  }
  shards_.insert(std::upper_bound(shards_.begin(), shards_.end(), id), id);
  const size_t old_size = points_.size();
  points_.reserve(old_size + vnodes_per_shard_);
  for (uint32_t v = 0; v < vnodes_per_shard_; v++) {
    points_.push_back(Point{VnodePosition(id, v), id, v});
  }
  std::sort(points_.begin() + static_cast<ptrdiff_t>(old_size), points_.end());
  std::inplace_merge(points_.begin(), points_.begin() + static_cast<ptrdiff_t>(old_size),
                     points_.end());
  DKV_ASSERT(points_.size() == shards_.size() * vnodes_per_shard_);
  DKV_DASSERT(std::is_sorted(points_.begin(), points_.end()));
  return Status::OK();
}

Status HashRing::RemoveShard(ShardId id) {
  auto it = std::lower_bound(shards_.begin(), shards_.end(), id);
  if (it == shards_.end() || *it != id) {
    return Status::NotFound("hash ring", "shard " + std::to_string(id) + " not present");
  }
  shards_.erase(it);
  std::erase_if(points_, [id](const Point& p) { return p.shard == id; });
  DKV_ASSERT(points_.size() == shards_.size() * vnodes_per_shard_);
  return Status::OK();
}

ShardId HashRing::OwnerOf(uint64_t position) const {
  DKV_ASSERT(!points_.empty());
  auto it = std::lower_bound(points_.begin(), points_.end(), position,
                             [](const Point& p, uint64_t pos) { return p.position < pos; });
  if (it == points_.end()) it = points_.begin();  // wrap around
  return it->shard;
}

Result<ShardId> HashRing::ShardFor(std::string_view key) const {
  if (points_.empty()) return Status::Unavailable("hash ring", "no shards");
  return OwnerOf(KeyPosition(key));
}

}  // namespace dkv::sharding

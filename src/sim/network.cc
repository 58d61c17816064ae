#include "sim/network.h"

#include <algorithm>
#include <memory>

namespace dkv::sim {

Network::Network(EventLoop* loop, Rng* rng, NodeIndex max_nodes, LinkOptions defaults)
    : loop_(loop),
      rng_(rng),
      max_nodes_(max_nodes),
      links_(static_cast<size_t>(max_nodes * max_nodes), defaults),
      blocked_(static_cast<size_t>(max_nodes * max_nodes), false) {
  DKV_ASSERT(max_nodes >= 1);
  DKV_ASSERT(defaults.latency_us_min <= defaults.latency_us_max);
}

void Network::SetLink(NodeIndex from, NodeIndex to, LinkOptions options) {
  DKV_ASSERT(options.latency_us_min <= options.latency_us_max);
  DKV_ASSERT(options.latency_us_min >= 0);
  links_[Slot(from, to)] = options;
}

const LinkOptions& Network::Link(NodeIndex from, NodeIndex to) const {
  return links_[Slot(from, to)];
}

int64_t Network::DrawLatency(const LinkOptions& link) {
  int64_t latency;
  if (link.tail_probability > 0 && rng_->Bernoulli(link.tail_probability)) {
    latency = rng_->Range(link.latency_us_max, std::max(link.latency_us_max, link.latency_us_tail));
  } else {
    latency = rng_->Range(link.latency_us_min, link.latency_us_max);
  }
  if (link.reorder_probability > 0 && rng_->Bernoulli(link.reorder_probability)) {
    latency += rng_->Range(0, link.reorder_delay_us_max);
  }
  return latency;
}

void Network::Send(NodeIndex from, NodeIndex to, std::function<void()> deliver) {
  const size_t slot = Slot(from, to);
  const LinkOptions& link = links_[slot];
  ++stats_.sent;
  if (blocked_[slot]) {
    ++stats_.partitioned;
    return;
  }
  if (link.loss_probability > 0 && rng_->Bernoulli(link.loss_probability)) {
    ++stats_.lost;
    return;
  }
  int copies = 1;
  if (link.duplicate_probability > 0 && rng_->Bernoulli(link.duplicate_probability)) {
    copies = 2;
    ++stats_.duplicated;
  }
  auto shared = std::make_shared<std::function<void()>>(std::move(deliver));
  for (int i = 0; i < copies; ++i) {
    loop_->Schedule(DrawLatency(link), [this, slot, shared] {
      if (blocked_[slot]) {  // the partition began while it was in flight
        ++stats_.partitioned;
        return;
      }
      ++stats_.delivered;
      (*shared)();
    });
  }
}

void Network::PartitionSymmetric(const std::vector<NodeIndex>& a, const std::vector<NodeIndex>& b) {
  Heal();
  for (NodeIndex x : a) {
    for (NodeIndex y : b) {
      Block(x, y);
      Block(y, x);
    }
  }
  partition_active_ = true;
  partition_description_ = "symmetric";
  for (NodeIndex x : a) partition_description_ += " " + std::to_string(x);
  partition_description_ += " |";
  for (NodeIndex y : b) partition_description_ += " " + std::to_string(y);
}

void Network::BlockOneWay(NodeIndex from, NodeIndex to) {
  Heal();
  Block(from, to);
  partition_active_ = true;
  partition_description_ = "one-way " + std::to_string(from) + " -/-> " + std::to_string(to);
}

void Network::Isolate(NodeIndex node) {
  Heal();
  for (NodeIndex other = 1; other <= max_nodes_; ++other) {
    if (other == node) continue;
    Block(node, other);
    Block(other, node);
  }
  partition_active_ = true;
  partition_description_ = "isolate " + std::to_string(node);
}

void Network::Bridge(const std::vector<NodeIndex>& a, NodeIndex bridge,
                     const std::vector<NodeIndex>& b) {
  PartitionSymmetric(a, b);
  partition_description_ = "bridge via " + std::to_string(bridge) + ": " + partition_description_;
}

void Network::Heal() {
  std::fill(blocked_.begin(), blocked_.end(), false);
  partition_active_ = false;
  partition_description_.clear();
}

}  // namespace dkv::sim

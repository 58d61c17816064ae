// Node throughput benchmark (not a test): three Nodes in one process on the
// real file system (a temp dir, removed afterwards), wired by an in-memory
// queue, one thread. Measures committed puts per second and raft-engine
// fsyncs per put for a number of shards and commands per proposal, so the
// effect of group commit across groups and of ProposeBatch shows.
//
//   dkv_node_bench [puts=20000] [value_bytes=100]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "node/node.h"

namespace dkv::node {
namespace {

class QueueTransport : public Transport {
 public:
  void Send(MessageBatch batch) override { queue.push_back(std::move(batch)); }
  std::deque<MessageBatch> queue;
};

struct Bench {
  std::map<NodeId, std::unique_ptr<Node>> nodes;
  QueueTransport net;
  uint64_t completed = 0;

  void Round() {
    for (auto& [id, n] : nodes) {
      if (!n->HasReady()) continue;
      auto done = n->ProcessReady();
      if (!done.ok()) {
        std::fprintf(stderr, "node %llu: %s\n", static_cast<unsigned long long>(id),
                     done.status().ToString().c_str());
        std::exit(1);
      }
      for (const Completion& c : *done) completed += c.status.ok() ? 1 : 0;
    }
    while (!net.queue.empty()) {
      MessageBatch b = std::move(net.queue.front());
      net.queue.pop_front();
      nodes[b.to]->Receive(b);
    }
  }
};

void Run(const std::string& root, int shards, int per_proposal, uint64_t puts, size_t value_bytes) {
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  Bench b;
  for (NodeId id = 1; id <= 3; id++) {
    NodeOptions o;
    o.id = id;
    o.data_dir = root + "/n" + std::to_string(id);
    o.clock = SystemClock::Default();
    auto n = Node::Open(o, &b.net);
    if (!n.ok()) {
      std::fprintf(stderr, "%s\n", n.status().ToString().c_str());
      std::exit(1);
    }
    b.nodes[id] = std::move(n).value();
  }
  for (ShardId s = 1; s <= static_cast<ShardId>(shards); s++) {
    for (auto& [id, n] : b.nodes) {
      if (!n->CreateReplica(s, {1, 2, 3}).ok()) std::exit(1);
    }
    if (!b.nodes[1]->Campaign(s).ok()) std::exit(1);
  }
  for (int i = 0; i < 20; i++) b.Round();
  Node* leader = b.nodes[1].get();
  const uint64_t syncs_before = leader->log_syncs();
  const std::string value(value_bytes, 'v');
  // Each round, every shard gets up to kClientsPerShard new proposals (as if
  // that many clients were waiting), within a bound on what is in flight.
  constexpr int kClientsPerShard = 32;
  const uint64_t window = 4096;
  uint64_t proposed = 0;
  const auto start = std::chrono::steady_clock::now();
  while (b.completed < puts) {
    for (ShardId s = 1; s <= static_cast<ShardId>(shards); s++) {
      for (int c = 0; c < kClientsPerShard && proposed < puts && proposed - b.completed < window;
           c++) {
        std::vector<std::pair<ShardCommand, uint64_t>> batch;
        for (int i = 0; i < per_proposal; i++) {
          batch.emplace_back(ShardCommand::Put("key" + std::to_string(proposed + i), value),
                             proposed + i);
        }
        if (!leader->ProposeBatch(s, std::move(batch)).ok()) break;
        proposed += per_proposal;
      }
    }
    b.Round();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t syncs = leader->log_syncs() - syncs_before;
  std::printf(
      "shards=%d per_proposal=%d puts=%llu: %.0f puts/s, %.2f leader fsyncs per 1000 puts\n",
      shards, per_proposal, static_cast<unsigned long long>(b.completed),
      static_cast<double>(b.completed) / secs,
      1000.0 * static_cast<double>(syncs) / static_cast<double>(b.completed));
  b.nodes.clear();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace dkv::node

int main(int argc, char** argv) {
  const uint64_t puts = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 20000;
  const size_t value_bytes = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 100;
  char tmpl[] = "/tmp/dkv-node-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string root = tmpl;
  for (int shards : {1, 8}) {
    for (int per_proposal : {1, 16}) {
      dkv::node::Run(root + "/run", shards, per_proposal, puts, value_bytes);
    }
  }
  std::filesystem::remove_all(root);
  return 0;
}

// A small in-memory network of RawNodes for the raft tests.
//
// Each node has a MemoryLogStorage and a toy state machine (the list of applied
// proposals). The network handles each node's Ready in the documented order,
// queues messages and delivers them, and can drop messages by link (partitions)
// or by a filter. Deterministic: no threads, no clocks, seeds passed in. Test-only.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/random.h"
#include "raft/quorum.h"
#include "raft/raw_node.h"

namespace dkv::raft::testing {

struct TestNode {
  NodeId id = kNoNode;
  MemoryLogStorage storage;
  std::unique_ptr<RawNode> node;
  Config config;
  // The toy state machine: applied proposals in order (empty entries skipped).
  std::vector<std::string> state;
  uint64_t applied_index = 0;
  ConfState applied_conf;  // membership as of applied_index
  std::vector<ReadState> reads;
  std::vector<Entry> committed;  // every committed entry seen, for safety checks
  bool installed_snapshot = false;

  std::string EncodeState() const {
    std::string out;
    for (const std::string& s : state) {
      out += s;
      out.push_back('\n');
    }
    return out;
  }
  void DecodeState(const std::string& data) {
    state.clear();
    size_t start = 0;
    for (size_t i = 0; i < data.size(); i++) {
      if (data[i] == '\n') {
        state.push_back(data.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  // The application snapshots its state at applied_index and compacts the log.
  void SnapshotAndCompact() {
    ASSERT_TRUE(storage.CreateSnapshot(applied_index, applied_conf, EncodeState()).ok());
    ASSERT_TRUE(storage.Compact(applied_index).ok());
  }
  RawNode& raw() { return *node; }
  NodeStatus status() const { return node->GetStatus(); }
};

class Network {
 public:
  using ConfigFn = std::function<void(Config*)>;

  // Builds n voters with ids 1..n.
  explicit Network(int n, ConfigFn tweak = nullptr, uint64_t seed = 1)
      : tweak_(tweak), seed_(seed) {
    std::vector<NodeId> peers;
    for (int i = 1; i <= n; i++) peers.push_back(i);
    for (NodeId id : peers) AddNode(id, peers);
  }

  // Adds a node. peers empty: a node joining an existing group.
  TestNode& AddNode(NodeId id, const std::vector<NodeId>& peers) {
    auto tn = std::make_unique<TestNode>();
    tn->id = id;
    Config c;
    c.id = id;
    c.peers = peers;
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.pre_vote = true;
    c.check_quorum = true;
    c.rng_seed = seed_ * 1000 + id;
    if (tweak_) tweak_(&c);
    tn->config = c;
    auto node = RawNode::Create(c, &tn->storage);
    EXPECT_TRUE(node.ok()) << node.status().ToString();
    tn->node = std::move(node).value();
    TestNode& ref = *tn;
    nodes_[id] = std::move(tn);
    return ref;
  }

  // Restarts a node from its storage (a crash that loses nothing persisted).
  void Restart(NodeId id) {
    TestNode& tn = *nodes_.at(id);
    Config c = tn.config;
    c.peers.clear();
    auto node = RawNode::Create(c, &tn.storage);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    tn.node = std::move(node).value();
    // The toy state machine restarts from the snapshot and re-applies.
    Result<Snapshot> snap = tn.storage.GetSnapshot();
    tn.DecodeState(snap->data);
    tn.applied_index = snap->metadata.index;
    tn.applied_conf = snap->metadata.conf_state;
  }

  TestNode& node(NodeId id) { return *nodes_.at(id); }
  std::vector<NodeId> ids() const {
    std::vector<NodeId> out;
    for (auto& [id, tn] : nodes_) out.push_back(id);
    return out;
  }

  // Handles one node's Ready, in the order raw_node.h prescribes.
  void Process(TestNode& tn) {
    if (!tn.node->HasReady()) return;
    Ready rd = tn.node->GetReady();
    if (rd.snapshot) {
      ASSERT_TRUE(tn.storage.ApplySnapshot(*rd.snapshot).ok());
      tn.DecodeState(rd.snapshot->data);
      tn.applied_index = rd.snapshot->metadata.index;
      tn.applied_conf = rd.snapshot->metadata.conf_state;
      tn.installed_snapshot = true;
    }
    ASSERT_TRUE(tn.storage.Append(rd.entries).ok());
    if (rd.hard_state) tn.storage.SetHardState(*rd.hard_state);
    for (Message& m : rd.messages) {
      EXPECT_EQ(m.from, tn.id);
      sent_.push_back(m);
      queue_.push_back(std::move(m));
    }
    for (const Entry& e : rd.committed_entries) {
      EXPECT_EQ(e.index, tn.applied_index + 1) << "node " << tn.id;
      tn.applied_index = e.index;
      tn.committed.push_back(e);
      if (e.type == EntryType::kNormal && !e.data.empty()) tn.state.push_back(e.data.ToString());
      if (e.type == EntryType::kConfChange) {
        auto cc = DecodeConfChange(e.data);
        ASSERT_TRUE(cc.ok());
        tn.applied_conf = ApplyConfChange(tn.applied_conf, *cc);
      }
    }
    for (ReadState& r : rd.read_states) tn.reads.push_back(std::move(r));
    tn.node->Advance(rd);
  }

  void ProcessAll() {
    for (auto& [id, tn] : nodes_) Process(*tn);
  }

  bool Dropped(const Message& m) const {
    if (!nodes_.count(m.to)) return true;
    if (cut_.count({m.from, m.to})) return true;
    if (drop_ && drop_(m)) return true;
    return false;
  }

  // Delivers messages until the network is quiet.
  void Deliver() {
    for (int round = 0; round < 100000; round++) {
      ProcessAll();
      if (queue_.empty()) return;
      size_t pick = 0;
      if (chaos_ != nullptr) pick = chaos_->Uniform(queue_.size());  // reorder
      Message m = std::move(queue_[pick]);
      queue_.erase(queue_.begin() + static_cast<std::ptrdiff_t>(pick));
      if (chaos_ != nullptr && chaos_->OneIn(20)) queue_.push_back(m);  // duplicate
      if (Dropped(m)) continue;
      Status s = nodes_.at(m.to)->node->Step(m);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    ADD_FAILURE() << "network did not settle";
  }

  void Tick(NodeId id) { nodes_.at(id)->node->Tick(); }
  void TickAll(int n) {
    for (int i = 0; i < n; i++) {
      for (auto& [id, tn] : nodes_) tn->node->Tick();
      Deliver();
    }
  }

  // Campaigns from `id` (pre-vote permitting) and delivers.
  void Elect(NodeId id) {
    ASSERT_TRUE(nodes_.at(id)->node->Campaign().ok());
    Deliver();
    ASSERT_EQ(node(id).status().role, Role::kLeader) << "node " << id << " not elected";
  }

  NodeId Leader() const {
    NodeId leader = kNoNode;
    uint64_t best_term = 0;
    for (auto& [id, tn] : nodes_) {
      NodeStatus s = tn->node->GetStatus();
      if (s.role == Role::kLeader && s.hard_state.term >= best_term) {
        leader = id;
        best_term = s.hard_state.term;
      }
    }
    return leader;
  }

  void Isolate(NodeId id) {
    for (auto& [other, tn] : nodes_) {
      if (other == id) continue;
      cut_.insert({id, other});
      cut_.insert({other, id});
    }
  }
  void Cut(NodeId a, NodeId b) {
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Heal() { cut_.clear(); }
  void SetDropFilter(std::function<bool(const Message&)> f) { drop_ = std::move(f); }
  // Delivers messages in a random order and duplicates some (nullptr: FIFO, once).
  void SetChaos(Rng* rng) { chaos_ = rng; }
  // Drops every message in flight (e.g. a crash of the whole network).
  void DropInFlight() { queue_.clear(); }

  // Messages handed to the network so far (for assertions), and a way to reset it.
  const std::vector<Message>& sent() const { return sent_; }
  void ClearSent() { sent_.clear(); }
  size_t CountSent(MessageType t) const {
    size_t n = 0;
    for (const Message& m : sent_) n += m.type == t;
    return n;
  }

  // Safety: applied logs agree index by index on every pair of nodes.
  void CheckLogsAgree() {
    std::map<uint64_t, Entry> seen;
    for (auto& [id, tn] : nodes_) {
      for (const Entry& e : tn->committed) {
        auto [it, fresh] = seen.emplace(e.index, e);
        if (!fresh) {
          EXPECT_EQ(it->second.term, e.term) << "index " << e.index << " node " << id;
          EXPECT_EQ(it->second.data, e.data) << "index " << e.index << " node " << id;
        }
      }
    }
  }

 private:
  ConfigFn tweak_;
  uint64_t seed_;
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::deque<Message> queue_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::function<bool(const Message&)> drop_;
  Rng* chaos_ = nullptr;
  std::vector<Message> sent_;
};

}  // namespace dkv::raft::testing

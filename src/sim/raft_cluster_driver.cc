// RaftCluster, part 3 of 3: the fault driver, healing, and the end-of-run checks.
#include <algorithm>
#include <utility>

#include "sim/raft_cluster.h"
#include "sim/raft_cluster_internal.h"

namespace dkv::sim {

using raft::ConfChange;
using raft::ConfChangeType;
using raft::Entry;
using raft::EntryType;
using raft::Message;
using raft::Ready;
using raft::Role;

std::vector<NodeId> RaftCluster::Voters() const { return {voters_.begin(), voters_.end()}; }

std::vector<NodeId> RaftCluster::UpVoters() const {
  std::vector<NodeId> out;
  for (NodeId v : voters_) {
    auto it = nodes_.find(v);
    if (it != nodes_.end() && it->second->up) out.push_back(v);
  }
  return out;
}

void RaftCluster::Start(bool clients) {
  for (int i = 1; i <= options_.nodes; ++i) original_voters_.push_back(static_cast<NodeId>(i));
  voters_.insert(original_voters_.begin(), original_voters_.end());
  for (NodeId id : original_voters_) CreateNode(id, true);
  if (!clients) return;
  clients_on_ = true;
  for (int i = 1; i <= options_.clients; ++i) {
    auto c = std::make_unique<Client>();
    c->id = static_cast<uint64_t>(i);
    clients_.push_back(std::move(c));
    ClientNext(*clients_.back(), rng_.Range(0, 10 * options_.tick_us));
  }
}

bool RaftCluster::RunFor(int64_t us) {
  if (failed()) return false;
  loop_.RunUntil(loop_.now_us() + us, [this] { return failed(); });
  return !failed();
}

void RaftCluster::StartPartition() {
  const FaultOptions& f = options_.faults;
  std::vector<NodeId> members;
  for (const auto& [id, n] : nodes_) {
    if (!n->removed) members.push_back(id);
  }
  if (members.size() < 2) return;
  for (size_t i = members.size() - 1; i > 0; --i) {
    std::swap(members[i], members[rng_.Uniform(i + 1)]);
  }
  std::vector<int> kinds;
  if (f.partition_symmetric) kinds.push_back(0);
  if (f.partition_asymmetric) kinds.push_back(1);
  if (f.partition_isolate) kinds.push_back(2);
  if (f.partition_bridge && members.size() >= 3) kinds.push_back(3);
  if (kinds.empty()) return;
  const NodeId leader = Leader();
  switch (kinds[rng_.Uniform(kinds.size())]) {
    case 0: {
      const size_t cut = 1 + rng_.Uniform(members.size() - 1);
      network_->PartitionSymmetric({members.begin(), members.begin() + cut},
                                   {members.begin() + cut, members.end()});
      break;
    }
    case 1: {
      NodeId from = members[0];
      NodeId to = members[1];
      if (leader != raft::kNoNode && rng_.OneIn(2)) {
        from = leader;
        to = members[0] == leader ? members[1] : members[0];
      }
      if (rng_.OneIn(2)) std::swap(from, to);
      network_->BlockOneWay(from, to);
      break;
    }
    case 2:
      network_->Isolate(leader != raft::kNoNode && rng_.OneIn(2) ? leader : members[0]);
      break;
    case 3: {
      const NodeId bridge = members[0];
      const size_t cut = 1 + rng_.Uniform(members.size() - 2);  // both halves non-empty
      network_->Bridge({members.begin() + 1, members.begin() + 1 + cut}, bridge,
                       {members.begin() + 1 + cut, members.end()});
      break;
    }
  }
  partition_steps_left_ = static_cast<int>(rng_.Range(1, f.partition_steps_max));
  ++report_.partitions;
  loop_.Trace("partition " + network_->partition_description());
}

void RaftCluster::StartMembershipChange() {
  const NodeId leader = Leader();
  if (leader == raft::kNoNode) return;
  Node& l = *nodes_.at(leader);
  // Voters stay within [nodes - 1, nodes + 1] (and at least 2), so the group
  // keeps a quorum it can reach; the kinds of change are drawn at random.
  const size_t voters = voters_.size();
  const size_t target = static_cast<size_t>(options_.nodes);
  const bool may_add_voter = voters < target + 1;
  const bool may_remove_voter = voters > std::max<size_t>(2, target - 1);
  const bool fresh_left = next_fresh_id_ <= max_node_id_;
  ConfChange cc;
  const uint64_t dice = rng_.Uniform(4);
  if (dice == 0 && !learners_.empty() && may_add_voter) {
    std::vector<NodeId> learners(learners_.begin(), learners_.end());
    cc.type = ConfChangeType::kAddVoter;  // promote a learner
    cc.node_id = learners[rng_.Uniform(learners.size())];
  } else if (dice <= 1 && fresh_left && (voters < target || rng_.OneIn(2)) && may_add_voter) {
    cc.type = rng_.OneIn(2) ? ConfChangeType::kAddVoter : ConfChangeType::kAddLearner;
    cc.node_id = next_fresh_id_++;
    CreateNode(cc.node_id, false);
  } else {
    std::vector<NodeId> candidates(learners_.begin(), learners_.end());
    if (may_remove_voter) {
      for (NodeId v : voters_) {
        // The leader removing itself is legal and worth testing, but rarer.
        if (v != leader || rng_.OneIn(4)) candidates.push_back(v);
      }
    }
    if (candidates.empty()) return;
    cc.type = ConfChangeType::kRemoveNode;
    cc.node_id = candidates[rng_.Uniform(candidates.size())];
  }
  Status st = l.raw->ProposeConfChange(cc);
  loop_.Trace("propose conf " + std::to_string(static_cast<int>(cc.type)) + " node " +
              std::to_string(cc.node_id) + ": " + st.ToString());
  if (st.ok()) ++report_.membership_changes;
  ProcessReady(l);
  AfterStep(l);
}

void RaftCluster::DriverStep() {
  if (!faults_on_ || failed()) return;
  const FaultOptions& f = options_.faults;

  for (auto it = restart_in_steps_.begin(); it != restart_in_steps_.end();) {
    if (--it->second <= 0) {
      const NodeId id = it->first;
      it = restart_in_steps_.erase(it);
      RestartNode(id);
    } else {
      ++it;
    }
  }
  if (network_->partitioned()) {
    if (--partition_steps_left_ <= 0) {
      network_->Heal();
      loop_.Trace("heal partition");
    }
  } else if (f.partition_probability > 0 && rng_.Bernoulli(f.partition_probability)) {
    StartPartition();
  }

  // Crashes keep a majority of the voters up, so the group can still progress.
  auto may_crash = [this] {
    if (options_.faults.crash_majority) return true;
    const size_t voters = voters_.size();
    const size_t down = voters - UpVoters().size();
    return down + 1 <= (voters - 1) / 2;
  };
  auto crash = [this](NodeId id) {
    CrashNode(id);
    restart_in_steps_[id] = static_cast<int>(rng_.Range(1, options_.faults.crash_steps_max));
  };
  if (f.crash_probability > 0 && rng_.Bernoulli(f.crash_probability) && may_crash()) {
    std::vector<NodeId> up = UpVoters();
    if (!up.empty()) crash(up[rng_.Uniform(up.size())]);
  }
  if (f.crash_leader_probability > 0 && rng_.Bernoulli(f.crash_leader_probability) && may_crash()) {
    const NodeId leader = Leader();
    if (leader != raft::kNoNode) crash(leader);
  }
  if (f.membership_probability > 0 && rng_.Bernoulli(f.membership_probability)) {
    StartMembershipChange();
  }
  if (f.transfer_probability > 0 && rng_.Bernoulli(f.transfer_probability)) {
    const NodeId leader = Leader();
    std::vector<NodeId> others;
    for (NodeId v : voters_) {
      if (v != leader) others.push_back(v);
    }
    if (leader != raft::kNoNode && !others.empty()) {
      const NodeId to = others[rng_.Uniform(others.size())];
      Node& l = *nodes_.at(leader);
      Status st = l.raw->TransferLeadership(to);
      loop_.Trace("transfer " + std::to_string(leader) + " -> " + std::to_string(to) + ": " +
                  st.ToString());
      ++report_.transfers;
      ProcessReady(l);
      AfterStep(l);
    }
  }
  if (failed()) return;
  loop_.Schedule(options_.step_us, [this] { DriverStep(); });
}

void RaftCluster::HealAll() {
  faults_on_ = false;
  network_->Heal();
  for (NodeId a = 1; a <= max_node_id_; ++a) {
    for (NodeId b = 1; b <= max_node_id_; ++b) network_->SetLink(a, b, LinkOptions{});
  }
  restart_in_steps_.clear();
  for (const auto& [id, n] : nodes_) {
    if (!n->up && !n->removed) RestartNode(id);
  }
  loop_.Trace("heal all");
}

bool RaftCluster::CheckConvergence() {
  // Every running member must reach the same applied index and state. Idle
  // heartbeats carry the commit index, so a few election timeouts suffice.
  constexpr int kMaxRounds = 100;
  for (int round = 0; round < kMaxRounds; ++round) {
    if (!RunFor(options_.step_us)) return false;
    uint64_t applied = 0;
    uint64_t fingerprint = 0;
    bool same = true;
    bool first = true;
    std::set<NodeId> members = voters_;
    members.insert(learners_.begin(), learners_.end());
    for (NodeId v : members) {
      const Node& n = *nodes_.at(v);
      if (!n.up) continue;
      const uint64_t fp = n.sm.Fingerprint();
      if (first) {
        applied = n.applied;
        fingerprint = fp;
        first = false;
      } else if (n.applied != applied || fp != fingerprint) {
        same = false;
      }
    }
    if (same && !first && Leader() != raft::kNoNode && applied == max_applied_) return true;
  }
  std::string detail;
  for (NodeId v : voters_) {
    const Node& n = *nodes_.at(v);
    detail += " node " + std::to_string(v) + (n.up ? "" : "(down)") + " applied " +
              std::to_string(n.applied);
  }
  Fail("no convergence after healing:" + detail + "; max applied " + std::to_string(max_applied_) +
       "; leader " + std::to_string(Leader()));
  return false;
}

void RaftCluster::CheckLostWrites(const std::map<std::string, std::string>& final_state) {
  // Values are unique per operation, so the final value of a key names the
  // write that produced it. A write acknowledged to a client is lost if that
  // write finished before the acknowledged one even began.
  std::map<std::string, const check::Operation*> writer;  // value -> op
  for (const check::Operation& op : history_) {
    if (op.kind != check::OpKind::kGet) writer[op.value] = &op;
  }
  for (int k = 0; k < options_.keys; ++k) {
    const std::string key = "k" + std::to_string(k);
    auto it = final_state.find(key);
    const check::Operation* last = nullptr;
    if (it != final_state.end()) {
      auto w = writer.find(it->second);
      if (w == writer.end()) {
        Fail("key " + key + " holds \"" + it->second + "\", which no client wrote");
        return;
      }
      last = w->second;
      const size_t index = static_cast<size_t>(last - history_.data());
      if (refused_[index]) {
        Fail("key " + key + " holds \"" + it->second + "\" from a refused request");
        return;
      }
    }
    for (size_t i = 0; i < history_.size(); ++i) {
      const check::Operation& op = history_[i];
      if (op.key != key || refused_[i] || op.unknown()) continue;
      const bool acked_write =
          op.kind == check::OpKind::kPut || (op.kind == check::OpKind::kCas && op.cas_ok);
      if (!acked_write || &op == last) continue;
      if (last == nullptr || (!last->unknown() && last->complete_us < op.invoke_us)) {
        Fail("lost write: acknowledged " + check::Describe(op) + " but key " + key + " ends as " +
             (last ? "\"" + last->value + "\"" : std::string("<absent>")));
        return;
      }
    }
  }
}

RunReport RaftCluster::Run() {
  Start(true);
  faults_on_ = true;
  loop_.Schedule(options_.step_us, [this] { DriverStep(); });
  RunFor(options_.fault_steps * options_.step_us);
  if (!failed()) {
    HealAll();
    in_heal_ = true;
    RunFor(options_.heal_steps * options_.step_us);
    if (!failed() && options_.clients > 0 && acked_in_heal_ == 0) {
      Fail("no progress: no client operation completed in " +
           std::to_string(options_.heal_steps * options_.step_us / 1000) + " ms after healing");
    }
  }
  if (!failed()) {
    clients_on_ = false;  // let outstanding requests finish or time out
    RunFor(options_.client_timeout_us + options_.step_us);
  }
  if (!failed() && CheckConvergence()) {
    CheckLostWrites(nodes_.at(Leader())->sm.data());
  }

  check::History h = history();
  report_.ops = h.size();
  for (const check::Operation& op : h) {
    if (op.unknown())
      ++report_.ops_unknown;
    else
      ++report_.ops_acked;
  }
  report_.ops_failed = history_.size() - h.size();
  if (!failed()) {
    check::CheckResult cr = check::CheckLinearizable(h, options_.check);
    report_.verdict = cr.verdict;
    report_.check_steps = cr.steps;
    if (cr.verdict == check::Verdict::kViolation) Fail("linearizability: " + cr.explanation);
  }
  report_.ok = !failed();
  report_.failure = failure_;
  report_.trace_hash = loop_.trace_hash();
  report_.events = loop_.events_run();
  report_.virtual_us = loop_.now_us();
  report_.network = network_->stats();
  return report_;
}

}  // namespace dkv::sim

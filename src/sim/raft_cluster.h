// RaftCluster: one deterministic simulated Raft group with clients, faults and checks.
//
// N nodes, each a raft::RawNode over a simulated Disk, a SimClock and a
// KvStateMachine, talk over a simulated Network; clients issue get/put/cas
// with timeouts and record a check::History. A driver injects faults drawn
// from ONE seeded Rng (partitions, crashes that lose unsynced writes, failed
// fsyncs, membership changes, leader transfers, snapshots), checks Raft's
// safety invariants after every node step, then heals everything, checks the
// group makes progress and converges, and finally checks the history for
// linearizability and for lost acknowledged writes. The same seed and options
// give the same run, event for event (the trace hash proves it). Owns
// everything it simulates; single-threaded, not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "check/history.h"
#include "check/linearizability.h"
#include "common/random.h"
#include "raft/limits.h"
#include "raft/raw_node.h"
#include "raft/types.h"
#include "sim/disk.h"
#include "sim/event_loop.h"
#include "sim/fault_options.h"
#include "sim/kv_state_machine.h"
#include "sim/network.h"
#include "sim/sim_clock.h"

namespace dkv::sim {

using raft::NodeId;

// Deliberate harness bugs, for testing that the checks catch them.
enum class InjectedBug : uint8_t {
  kNone = 0,
  kStaleReads = 1,       // gets answered from the receiving node's state, no ReadIndex
  kAckBeforeCommit = 2,  // puts acknowledged as soon as the proposal is accepted
  kSendBeforeSync = 3,   // messages sent before the Ready's fsync completes
};

struct ClusterOptions {
  int nodes = 3;  // initial voters, ids 1..nodes
  // Fresh ids available to membership changes (a removed id is never reused:
  // a wiped node reusing an id could vote twice in one term).
  int max_added_nodes = 8;
  int clients = 4;
  int keys = 3;  // few keys, so clients contend
  FaultOptions faults;

  int64_t tick_us = raft::kDefaultTickMicros;  // the runtime default: elections after 250-500 ms
  int election_tick = 10;
  int heartbeat_tick = 1;
  bool pre_vote = true;
  bool check_quorum = true;

  int64_t step_us = 100'000;  // one driver step: a chance of each fault
  int fault_steps = 100;      // 10 s of faults
  int heal_steps = 60;        // then 6 s healed, during which progress is required
  int64_t client_timeout_us = 1'000'000;
  int64_t client_think_us_max = 20'000;
  int64_t client_latency_us_min = 50;
  int64_t client_latency_us_max = 500;
  double read_index_probability = 0.5;  // gets by ReadIndex, else through the log
  // Pass Config::applied = the snapshot index on restart rather than 0 (which
  // the core documents as "the snapshot index"; before raft commit a7a5e7b it
  // meant FirstIndex() - 1, and restarted nodes re-applied the entries kept
  // behind a snapshot -- the simulator's first finding). Off tests the contract.
  bool explicit_applied_on_restart = false;
  InjectedBug bug = InjectedBug::kNone;

  check::CheckOptions check;
};

struct RunReport {
  bool ok = true;
  std::string failure;  // the first failed check, with context
  uint64_t trace_hash = 0;
  uint64_t events = 0;
  int64_t virtual_us = 0;
  size_t ops = 0;          // operations in the checked history
  size_t ops_acked = 0;    // completed with a known outcome
  size_t ops_unknown = 0;  // timed out / lost
  size_t ops_failed = 0;   // refused before taking effect (not in the history)
  check::Verdict verdict = check::Verdict::kOk;
  uint64_t check_steps = 0;
  uint64_t crashes = 0, restarts = 0, partitions = 0, membership_changes = 0, transfers = 0,
           snapshots = 0, elections = 0;
  NetworkStats network;
  std::string Summary() const;
};

class RaftCluster {
 public:
  RaftCluster(uint64_t seed, ClusterOptions options);
  ~RaftCluster();
  RaftCluster(const RaftCluster&) = delete;
  RaftCluster& operator=(const RaftCluster&) = delete;

  // The whole run: start, fault phase, heal, progress + convergence, history check.
  RunReport Run();

  // ---- Pieces, for tests and the benchmark. ----
  // Creates the nodes and starts their tickers. Clients start only if `clients`.
  void Start(bool clients);
  // Advances virtual time, checking invariants as nodes step. Returns false as
  // soon as an invariant fails (see failure()).
  bool RunFor(int64_t us);
  void CrashNode(NodeId id);
  void RestartNode(NodeId id);
  // The live leader with the highest term, or kNoNode.
  NodeId Leader() const;
  uint64_t TermOf(NodeId id) const;
  bool IsUp(NodeId id) const;
  // Proposes raw data at `id` (bench): Status of RawNode::Propose.
  Status ProposeAt(NodeId id, std::string data);

  // Runs for every entry any node applies: (node, entry).
  std::function<void(NodeId, const raft::Entry&)> on_apply;

  EventLoop& loop() { return loop_; }
  Network& network() { return *network_; }
  const std::string& failure() const { return failure_; }
  bool failed() const { return !failure_.empty(); }
  // The history of finished and unfinished operations (refused ones excluded).
  check::History history() const;

 private:
  struct Request;
  struct Node;
  struct Client;

  // Node mechanics.
  void CreateNode(NodeId id, bool original);
  void BootNode(Node& n);
  void ScheduleTick(Node& n);
  void ProcessReady(Node& n);
  void FinishReady(NodeId id, uint64_t incarnation, uint64_t generation,
                   std::shared_ptr<raft::Ready> ready);
  void Deliver(const raft::Message& msg);
  void ApplyEntry(Node& n, const raft::Entry& e);
  void ServeReads(Node& n);
  void MaybeSnapshot(Node& n);
  void AfterStep(Node& n);  // invariants
  void Fail(const std::string& what);

  // Clients.
  void ClientNext(Client& c, int64_t delay_us);
  void ClientIssue(Client& c);
  void HandleRequest(NodeId id, std::shared_ptr<Request> req);
  void Reply(const Request& req, bool refused, NodeId leader_hint, std::optional<std::string> value,
             bool cas_ok);
  void ClientReply(uint64_t client, uint64_t request, bool refused, NodeId leader_hint,
                   std::optional<std::string> value, bool cas_ok);
  void ClientTimeout(uint64_t client, uint64_t request);

  // Driver.
  void DriverStep();
  void StartPartition();
  void StartMembershipChange();
  std::vector<NodeId> Voters() const;
  std::vector<NodeId> UpVoters() const;
  void HealAll();
  bool CheckConvergence();
  void CheckLostWrites(const std::map<std::string, std::string>& final_state);

  const uint64_t seed_;
  ClusterOptions options_;
  Rng rng_;
  EventLoop loop_;
  std::unique_ptr<Network> network_;
  std::map<NodeId, std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<NodeId> original_voters_;
  NodeId next_fresh_id_ = 0;
  NodeId max_node_id_ = 0;
  bool faults_on_ = false;
  bool clients_on_ = false;
  int partition_steps_left_ = 0;
  std::map<NodeId, int> restart_in_steps_;

  // Global knowledge for the invariants.
  std::map<uint64_t, NodeId> leader_of_term_;  // election safety
  struct IndexTermHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& p) const {
      return static_cast<size_t>(p.first * 0x9E3779B97F4A7C15ull ^ p.second);
    }
  };
  // (index, term) -> data hash of every entry any node persisted (log matching).
  // Only looked up, never iterated, so its order does not matter.
  std::unordered_map<std::pair<uint64_t, uint64_t>, uint64_t, IndexTermHash> log_entries_;
  // applied_[index] = (term, data hash) of the entry applied at index; term 0 =
  // nobody applied it (yet). Dense: indexes start at 1.
  std::vector<std::pair<uint64_t, uint64_t>> applied_;
  std::set<NodeId> voters_;    // as of the highest applied conf change
  std::set<NodeId> learners_;  // likewise
  uint64_t voters_index_ = 0;
  uint64_t max_applied_ = 0;

  // History: ops in invocation order; refused ones are marked and left out.
  check::History history_;
  std::vector<bool> refused_;
  size_t acked_in_heal_ = 0;
  bool in_heal_ = false;

  std::string failure_;
  RunReport report_;
};

}  // namespace dkv::sim

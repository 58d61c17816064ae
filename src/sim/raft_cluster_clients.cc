// RaftCluster, part 2 of 3: clients issue operations and record the history.
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

void RaftCluster::ClientNext(Client& c, int64_t delay_us) {
  const uint64_t id = c.id;
  loop_.Schedule(delay_us, [this, id] { ClientIssue(*clients_[id - 1]); });
}

void RaftCluster::ClientIssue(Client& c) {
  if (!clients_on_ || failed()) return;
  DKV_ASSERT(c.outstanding == 0);
  auto req = std::make_shared<Request>();
  req->client = c.id;
  req->request = c.next_request++;
  KvCommand& cmd = req->command;
  cmd.client = c.id;
  cmd.request = req->request;
  cmd.key = "k" + std::to_string(rng_.Uniform(static_cast<uint64_t>(options_.keys)));
  const uint64_t dice = rng_.Uniform(10);
  check::Operation op;
  if (dice < 4) {
    cmd.kind = check::OpKind::kGet;
    req->read_index = rng_.Bernoulli(options_.read_index_probability);
    op = check::Operation::Get(c.id, cmd.key, std::nullopt, loop_.now_us(),
                               check::kUnknownCompletion);
  } else {
    cmd.value = "c" + std::to_string(c.id) + "-" + std::to_string(req->request);
    if (dice < 8) {
      cmd.kind = check::OpKind::kPut;
      op = check::Operation::Put(c.id, cmd.key, cmd.value, loop_.now_us(),
                                 check::kUnknownCompletion);
    } else {
      cmd.kind = check::OpKind::kCas;
      auto seen = c.last_seen.find(cmd.key);
      if (seen != c.last_seen.end()) cmd.expected = seen->second;
      op = check::Operation::Cas(c.id, cmd.key, cmd.expected, cmd.value, false, loop_.now_us(),
                                 check::kUnknownCompletion);
    }
  }
  c.outstanding = req->request;
  c.op_index = history_.size();
  history_.push_back(std::move(op));
  refused_.push_back(false);

  // Target: the leader it last heard of, else any node it knows of.
  NodeId target = c.leader_hint;
  if (target == raft::kNoNode || nodes_.count(target) == 0 || nodes_.at(target)->removed) {
    std::vector<NodeId> candidates;
    for (const auto& [id, n] : nodes_) {
      if (!n->removed) candidates.push_back(id);
    }
    target = candidates[rng_.Uniform(candidates.size())];
  }
  loop_.Trace("client " + std::to_string(c.id) + " req " + std::to_string(req->request) + " -> " +
              std::to_string(target) + " " + std::to_string(static_cast<int>(cmd.kind)) + " " +
              cmd.key);
  loop_.Schedule(rng_.Range(options_.client_latency_us_min, options_.client_latency_us_max),
                 [this, target, req] { HandleRequest(target, req); });
  const uint64_t client = c.id;
  const uint64_t request = req->request;
  c.timeout = loop_.Schedule(options_.client_timeout_us,
                             [this, client, request] { ClientTimeout(client, request); });
}

void RaftCluster::HandleRequest(NodeId id, std::shared_ptr<Request> req) {
  Node& n = *nodes_.at(id);
  if (!n.up) return;  // the client will time out
  Status st;
  if (options_.bug == InjectedBug::kStaleReads && req->command.kind == check::OpKind::kGet) {
    Reply(*req, false, raft::kNoNode, n.sm.Read(req->command.key), false);
    return;
  }
  if (req->command.kind == check::OpKind::kGet && req->read_index) {
    std::string context = "n" + std::to_string(id) + "." + std::to_string(n.incarnation) + "c" +
                          std::to_string(req->client) + "r" + std::to_string(req->request);
    st = n.raw->ReadIndex(context);
    if (st.ok()) n.reads_by_context[context] = req;
  } else {
    st = n.raw->Propose(EncodeCommand(req->command));
    if (st.ok()) {
      if (options_.bug == InjectedBug::kAckBeforeCommit &&
          req->command.kind == check::OpKind::kPut) {
        Reply(*req, false, raft::kNoNode, std::nullopt, false);
      } else {
        n.writes[{req->client, req->request}] = req;
      }
    }
  }
  if (!st.ok()) {
    // Refused before entering the log: it cannot take effect.
    Reply(*req, true, n.raw->GetBasicStatus().leader_id, std::nullopt, false);
  }
  ProcessReady(n);
  AfterStep(n);
}

void RaftCluster::Reply(const Request& req, bool refused, NodeId leader_hint,
                        std::optional<std::string> value, bool cas_ok) {
  const uint64_t client = req.client;
  const uint64_t request = req.request;
  loop_.Schedule(rng_.Range(options_.client_latency_us_min, options_.client_latency_us_max),
                 [this, client, request, refused, leader_hint, value, cas_ok] {
                   ClientReply(client, request, refused, leader_hint, value, cas_ok);
                 });
}

void RaftCluster::ClientReply(uint64_t client, uint64_t request, bool refused, NodeId leader_hint,
                              std::optional<std::string> value, bool cas_ok) {
  Client& c = *clients_[client - 1];
  if (c.outstanding != request) return;  // a late answer to an op already timed out
  loop_.Cancel(c.timeout);
  c.outstanding = 0;
  check::Operation& op = history_[c.op_index];
  if (refused) {
    refused_[c.op_index] = true;
    c.leader_hint = leader_hint;
    loop_.Trace("client " + std::to_string(client) + " refused " + std::to_string(request));
    ClientNext(c, rng_.Range(1000, 10'000));
    return;
  }
  op.complete_us = loop_.now_us();
  switch (op.kind) {
    case check::OpKind::kGet:
      op.output = value;
      c.last_seen[op.key] = value;
      break;
    case check::OpKind::kPut:
      c.last_seen[op.key] = op.value;
      break;
    case check::OpKind::kCas:
      op.cas_ok = cas_ok;
      if (cas_ok)
        c.last_seen[op.key] = op.value;
      else
        c.last_seen.erase(op.key);
      break;
    case check::OpKind::kIncr:  // the simulator's clients issue none
      DKV_ASSERT(false && "INCR in the simulator's history");
      break;
  }
  if (in_heal_) ++acked_in_heal_;
  loop_.Trace("client " + std::to_string(client) + " done " + std::to_string(request) + " " +
              (value.has_value() ? *value : std::string("-")) + (cas_ok ? " ok" : ""));
  ClientNext(c, rng_.Range(0, options_.client_think_us_max));
}

void RaftCluster::ClientTimeout(uint64_t client, uint64_t request) {
  Client& c = *clients_[client - 1];
  if (c.outstanding != request) return;
  c.outstanding = 0;
  c.leader_hint = raft::kNoNode;
  loop_.Trace("client " + std::to_string(client) + " timeout " + std::to_string(request));
  ClientNext(c, rng_.Range(0, options_.client_think_us_max));
}

check::History RaftCluster::history() const {
  check::History h;
  for (size_t i = 0; i < history_.size(); ++i) {
    if (!refused_[i]) h.push_back(history_[i]);
  }
  return h;
}

}  // namespace dkv::sim

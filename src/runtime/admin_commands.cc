#include "runtime/admin_commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "common/assert.h"
#include "raft/types.h"
#include "runtime/limits.h"
#include "server/reply.h"

namespace dkv::runtime {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::tolower);
  return s;
}

std::string ErrorReply(int protocol, const std::string& text) {
  std::string out;
  server::ReplyBuilder(&out, protocol).Error(text);
  return out;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string JoinIds(const std::vector<NodeId>& ids) {
  std::string out;
  for (NodeId id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

bool ParseIds(std::string_view s, std::vector<NodeId>* out) {
  out->clear();
  while (!s.empty()) {
    const size_t comma = s.find(',');
    uint64_t id = 0;
    if (!ParseU64(s.substr(0, comma), &id)) return false;
    out->push_back(id);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return true;
}

ShardReply Integer(int64_t n) {
  ShardReply r;
  r.kind = ShardReply::Kind::kInteger;
  r.integer = n;
  return r;
}

ShardReply Retry() {
  ShardReply r;
  r.kind = ShardReply::Kind::kNoLeader;
  return r;
}

std::string Encode(const ShardReply& r) { return EncodeShardReply(r); }

}  // namespace

std::string FormatReplicaLine(const ReplicaView& v) {
  return "shard=" + std::to_string(v.shard) + " role=" + v.role +
         " leader=" + std::to_string(v.leader) + " term=" + std::to_string(v.term) +
         " commit=" + std::to_string(v.commit) + " applied=" + std::to_string(v.applied) +
         " first=" + std::to_string(v.first_index) + " voters=" + JoinIds(v.voters) +
         " learners=" + JoinIds(v.learners);
}

Result<ReplicaView> ParseReplicaLine(std::string_view line) {
  ReplicaView v;
  const Status bad = Status::InvalidArgument("replica line", std::string(line));
  int seen = 0;
  while (!line.empty()) {
    const size_t space = line.find(' ');
    std::string_view field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return bad;
    const std::string_view key = field.substr(0, eq), value = field.substr(eq + 1);
    bool ok = true;
    if (key == "shard") {
      ok = ParseU64(value, &v.shard);
    } else if (key == "role") {
      v.role = std::string(value);
    } else if (key == "leader") {
      ok = ParseU64(value, &v.leader);
    } else if (key == "term") {
      ok = ParseU64(value, &v.term);
    } else if (key == "commit") {
      ok = ParseU64(value, &v.commit);
    } else if (key == "applied") {
      ok = ParseU64(value, &v.applied);
    } else if (key == "first") {
      ok = ParseU64(value, &v.first_index);
      seen--;  // optional (older nodes)
    } else if (key == "voters") {
      ok = ParseIds(value, &v.voters);
    } else if (key == "learners") {
      ok = ParseIds(value, &v.learners);
    } else {
      continue;  // a newer node's extra field
    }
    if (!ok) return bad;
    seen++;
  }
  if (seen < 8) return bad;
  return v;
}

struct AdminService::Call {
  ShardId shard = 0;
  std::vector<std::string> args;
  std::chrono::steady_clock::time_point deadline;
  int attempt = 0;
  bool outcome_unknown = false;  // an earlier try was sent and got no answer
  std::string last_error;        // of the last try that got no answer
  ReplyFn done;
};

AdminService::AdminService(NodeRuntime* runtime, ShardRouter* router,
                           const cluster::ClusterConfig& config)
    : runtime_(runtime), router_(router), config_(config) {
  meta_voters_ = sharding::MetadataVoters(config.SortedNodeIds(), config.replication_factor);
}

bool AdminService::IsAdminCommand(const std::string& n) {
  return n == "DKV.ADDREPLICA" || n == "DKV.REMOVEREPLICA" || n == "DKV.TRANSFERLEADER" ||
         n == "DKV.SHARDS" || n == "DKV.SHARDMAP";
}

void AdminService::Execute(const std::string& name, const std::vector<std::string>& argv,
                           int protocol, std::function<void(std::string)> done) {
  if (name == "DKV.SHARDMAP") {
    if (argv.size() != 1) {
      return done(
          ErrorReply(protocol, "ERR wrong number of arguments for '" + Lower(name) + "' command"));
    }
    std::string out;
    server::ReplyBuilder b(&out, protocol);
    const std::vector<std::string> lines = ShardMapLines();
    b.ArrayHeader(static_cast<int64_t>(lines.size()));
    for (const std::string& l : lines) b.Bulk(l);
    return done(std::move(out));
  }
  if (name == "DKV.SHARDS") {
    if (argv.size() != 1) {
      return done(
          ErrorReply(protocol, "ERR wrong number of arguments for '" + Lower(name) + "' command"));
    }
    Shards([this, protocol, done](std::vector<std::string> lines) {
      // Every line names the shard map version this node routes by.
      const std::string version = " map_version=" + std::to_string(map_.version());
      for (std::string& l : lines) l += version;
      std::string out;
      server::ReplyBuilder b(&out, protocol);
      b.ArrayHeader(static_cast<int64_t>(lines.size()));
      for (const std::string& l : lines) b.Bulk(l);
      done(std::move(out));
    });
    return;
  }
  if (argv.size() != 3) {
    return done(
        ErrorReply(protocol, "ERR wrong number of arguments for '" + Lower(name) + "' command"));
  }
  uint64_t shard = 0, node = 0;
  if (!ParseU64(argv[1], &shard) || shard >= config_.shards) {
    return done(ErrorReply(protocol, "ERR invalid shard '" + argv[1] + "': expected 0.." +
                                         std::to_string(config_.shards - 1)));
  }
  if (!ParseU64(argv[2], &node) || config_.FindNode(node) == nullptr) {
    return done(ErrorReply(
        protocol, "ERR unknown node '" + argv[2] + "': not a node id of the cluster config"));
  }
  auto reply = [protocol, done](std::string text) {
    if (text.empty()) {
      std::string out;
      server::ReplyBuilder(&out, protocol).Ok();
      return done(std::move(out));
    }
    done(ErrorReply(protocol, text));
  };
  if (name == "DKV.ADDREPLICA") return AddReplica(shard, node, reply);
  if (name == "DKV.REMOVEREPLICA") return RemoveReplica(shard, node, reply);
  DKV_ASSERT(name == "DKV.TRANSFERLEADER");
  CallLeader(shard, {"ADMIN", "TRANSFER", std::to_string(node)}, [reply](ShardReply r) {
    if (r.kind == ShardReply::Kind::kError) return reply(r.error);
    reply("");
  });
}

// --- The client commands, step by step (docs/runtime.md). ---

// `reply("")` means +OK; any other text is the error reply.
void AdminService::AddReplica(ShardId shard, NodeId node, std::function<void(std::string)> reply) {
  // 1. The target creates an empty replica that waits for the leader.
  CallNodeIdempotent(
      node, shard, {"ADMIN", "JOIN"}, std::chrono::steady_clock::now() + kAdminStepWait,
      [this, shard, node, reply](ShardReply r) {
        if (r.kind == ShardReply::Kind::kError) return reply(r.error);
        // 2. The leader adds it as a learner: it receives the log (or a
        // snapshot) without counting for commits while it catches up.
        CallLeader(shard, {"ADMIN", "CONF", "ADDLEARNER", std::to_string(node)},
                   [this, shard, node, reply](ShardReply r) {
                     if (r.kind == ShardReply::Kind::kError) return reply(r.error);
                     if (r.integer == 2) {
                       return reply("ERR node " + std::to_string(node) +
                                    " is already a voter of shard " + std::to_string(shard));
                     }
                     WaitCaughtUp(shard, node, std::chrono::steady_clock::now() + kAdminCatchUpWait,
                                  0, reply);
                   });
      });
}

void AdminService::WaitCaughtUp(ShardId shard, NodeId node,
                                std::chrono::steady_clock::time_point deadline, uint64_t target,
                                std::function<void(std::string)> reply) {
  // 3. Once the learner's log reaches the leader's commit index as of the
  // first look (or comes within kAdminCatchUpSlackEntries of the current
  // one: under a steady write load it never quite touches it), 4. promote it.
  CallLeader(
      shard, {"ADMIN", "PROGRESS", std::to_string(node)},
      [this, shard, node, deadline, target, reply](ShardReply r) {
        if (r.kind == ShardReply::Kind::kError) return reply(r.error);
        uint64_t match = 0, commit = 0;
        if (r.kind != ShardReply::Kind::kValues || r.values.size() != 2 || !r.values[0] ||
            !r.values[1] || !ParseU64(*r.values[0], &match) || !ParseU64(*r.values[1], &commit)) {
          return reply("ERR shard " + std::to_string(shard) + ": malformed progress answer");
        }
        const uint64_t goal = target != 0 ? target : std::max<uint64_t>(commit, 1);
        const bool caught_up =
            match > 0 && (match >= goal || match + kAdminCatchUpSlackEntries >= commit);
        if (!caught_up) {
          if (std::chrono::steady_clock::now() > deadline) {
            return reply("ERR node " + std::to_string(node) + " joined shard " +
                         std::to_string(shard) + " as a learner but did not catch up in time (" +
                         std::to_string(match) + " of " + std::to_string(commit) +
                         "); run DKV.ADDREPLICA again to promote it");
          }
          runtime_->RunAfter(std::chrono::milliseconds(100),
                             [this, shard, node, deadline, goal, reply] {
                               WaitCaughtUp(shard, node, deadline, goal, reply);
                             });
          return;
        }
        CallLeader(shard, {"ADMIN", "CONF", "ADDVOTER", std::to_string(node)},
                   [this, shard, node, reply](ShardReply r) {
                     if (r.kind == ShardReply::Kind::kError) return reply(r.error);
                     // 5. The map records the new replica (a new version).
                     sharding::MapChange c;
                     c.kind = sharding::MapChange::Kind::kAddReplica;
                     c.shard = static_cast<sharding::ShardId>(shard);
                     c.nodes = {node};
                     UpdateMapAfterConfChange(c, reply);
                   });
      });
}

void AdminService::RemoveReplica(ShardId shard, NodeId node,
                                 std::function<void(std::string)> reply) {
  CallLeader(shard, {"ADMIN", "CONF", "REMOVE", std::to_string(node)},
             [this, shard, node, reply](ShardReply r) {
               if (r.kind == ShardReply::Kind::kError) return reply(r.error);
               if (r.integer == 2) {
                 return reply("ERR node " + std::to_string(node) + " is not a replica of shard " +
                              std::to_string(shard));
               }
               // The removed node rarely learns of its removal through Raft
               // (the leader stops replicating to it once the change is in
               // its log), so it is told to drop its replica.
               DropOn(node, shard, 5, [this, shard, node, reply] {
                 sharding::MapChange c;
                 c.kind = sharding::MapChange::Kind::kRemoveReplica;
                 c.shard = static_cast<sharding::ShardId>(shard);
                 c.nodes = {node};
                 UpdateMapAfterConfChange(c, reply);
               });
             });
}

void AdminService::UpdateMapAfterConfChange(const sharding::MapChange& change,
                                            std::function<void(std::string)> reply) {
  if (map_.version() == 0) {
    // No map seen (a cluster founded before the metadata group existed, or
    // its group has no leader yet): the membership change stands alone.
    RefreshMembership();
    return reply("");
  }
  ProposeMapChange(change, [this, change, reply](Status s) {
    // The membership change is made either way; a map update that failed is
    // made later by the shard leader's housekeeping (docs/sharding.md).
    if (!s.ok()) {
      spdlog::warn("shard {}: membership changed but the shard map was not updated yet: {}",
                   change.shard, s.ToString());
    }
    RefreshMembership();
    reply("");
  });
}

void AdminService::DropOn(NodeId node, ShardId shard, int attempts_left,
                          std::function<void()> done) {
  CallNode(node, shard, {"ADMIN", "DROP"}, [this, node, shard, attempts_left, done](ShardReply r) {
    if (r.kind != ShardReply::Kind::kError) return done();
    if (attempts_left <= 1) {
      // It is out of the group either way; its stale copy only
      // costs disk until it is dropped by hand or re-added.
      spdlog::warn("shard {}: node {} was removed but did not drop its replica: {}", shard, node,
                   r.error);
      return done();
    }
    runtime_->RunAfter(std::chrono::milliseconds(200), [this, node, shard, attempts_left, done] {
      DropOn(node, shard, attempts_left - 1, done);
    });
  });
}

void AdminService::Shards(std::function<void(std::vector<std::string>)> done) {
  // Every node's replicas (this one's and each peer's answer, gathered for
  // at most kShardsGatherWait), merged per shard: the leader's view of the
  // highest term, else the freshest replica's.
  struct Gather {
    std::map<ShardId, std::vector<ReplicaView>> views;
    size_t remaining = 0;
    bool answered = false;
    std::function<void(std::vector<std::string>)> done;
  };
  auto g = std::make_shared<Gather>();
  g->done = std::move(done);
  auto add_lines = [g](NodeId from, const std::vector<std::string>& lines) {
    for (const std::string& l : lines) {
      Result<ReplicaView> v = ParseReplicaLine(l);
      if (!v.ok()) continue;
      v.value().node = from;
      g->views[v.value().shard].push_back(v.value());
    }
  };
  auto finish = [this, g] {
    if (g->answered) return;
    g->answered = true;
    std::vector<std::string> out;
    for (ShardId shard = 0; shard < config_.shards; shard++) {
      auto it = g->views.find(shard);
      if (it == g->views.end() || it->second.empty()) {
        out.push_back("shard=" + std::to_string(shard) + " leader=0 term=0 applied=0 voters=" +
                      JoinIds(router_->Members(shard)) + " learners= replicas=");
        continue;
      }
      std::vector<ReplicaView>& vs = it->second;
      std::sort(vs.begin(), vs.end(),
                [](const ReplicaView& a, const ReplicaView& b) { return a.node < b.node; });
      const ReplicaView* best = &vs.front();
      for (const ReplicaView& v : vs) {
        const bool v_leads = v.role == "leader", best_leads = best->role == "leader";
        if (std::tie(v.term, v_leads, v.applied) > std::tie(best->term, best_leads, best->applied))
          best = &v;
      }
      std::string replicas;
      for (const ReplicaView& v : vs) {
        replicas += (replicas.empty() ? "" : ",") + std::to_string(v.node) + ":" + v.role + ":" +
                    std::to_string(v.applied);
      }
      out.push_back("shard=" + std::to_string(shard) + " leader=" + std::to_string(best->leader) +
                    " term=" + std::to_string(best->term) + " applied=" +
                    std::to_string(best->applied) + " voters=" + JoinIds(best->voters) +
                    " learners=" + JoinIds(best->learners) + " replicas=" + replicas);
    }
    g->done(std::move(out));
  };
  add_lines(runtime_->self(), LocalReplicaLines());
  for (const cluster::NodeConfig& n : config_.nodes) {
    if (n.id == runtime_->self()) continue;
    g->remaining++;
    CallNode(n.id, 0, {"ADMIN", "SHARDS"}, [this, g, from = n.id, add_lines, finish](ShardReply r) {
      if (r.kind == ShardReply::Kind::kValues) {
        std::vector<std::string> lines;
        for (auto& v : r.values) {
          if (v) lines.push_back(*v);
        }
        if (!lines.empty()) NotePeerMapVersion(from, lines.back());
        for (const std::string& l : lines) {
          Result<ReplicaView> view = ParseReplicaLine(l);
          if (view.ok()) {
            view.value().node = from;
            LearnView(view.value());
          }
        }
        add_lines(from, lines);
      }
      if (--g->remaining == 0) finish();
    });
  }
  if (g->remaining == 0) return finish();
  runtime_->RunAfter(kShardsGatherWait, finish);
}

// --- Sending steps to the leader or to one node. ---

void AdminService::CallLeader(ShardId shard, std::vector<std::string> args, ReplyFn done,
                              std::chrono::milliseconds wait) {
  auto call = std::make_shared<Call>();
  call->shard = shard;
  call->args = std::move(args);
  call->deadline = std::chrono::steady_clock::now() + wait;
  call->done = std::move(done);
  CallLeaderAttempt(std::move(call));
}

void AdminService::CallLeaderAttempt(std::shared_ptr<Call> call) {
  const ShardId shard = call->shard;
  if (std::chrono::steady_clock::now() > call->deadline) {
    if (!call->last_error.empty()) return call->done(ShardReply::Error(call->last_error));
    return call->done(
        ShardReply::Error("UNAVAILABLE shard " + std::to_string(shard) + " has no leader"));
  }
  auto retry = [this, call] {
    runtime_->RunAfter(runtime_->tick_interval(), [this, call] { CallLeaderAttempt(call); });
  };
  node::Node& node = runtime_->node();
  NodeId target = 0;
  if (node.HasReplica(shard) && node.LeaderOf(shard) != 0) {
    target = node.LeaderOf(shard);
  } else {
    target = router_->PickTarget(shard, call->attempt);
  }
  call->attempt++;
  if (target == 0) return retry();
  CallNodeRaw(target, shard, call->args,
              [this, call, target, retry](ShardReply r, Delivery delivery) {
                const ShardId shard = call->shard;
                if (delivery != Delivery::kAnswered) {
                  // Not sent (peer down: try another), or sent and unanswered.
                  // Every leader step is idempotent (it checks the membership
                  // first), so it is asked again; the unknown outcome is
                  // remembered to read the next answer right.
                  if (delivery == Delivery::kUnknown) call->outcome_unknown = true;
                  if (router_->LeaderHint(shard) == target) router_->NoteLeader(shard, 0);
                  call->last_error = r.error;
                  return retry();
                }
                switch (r.kind) {
                  case ShardReply::Kind::kNotLeader:
                    router_->NoteLeader(shard, r.leader != target ? r.leader : 0);
                    return retry();
                  case ShardReply::Kind::kNoLeader:
                    return retry();
                  case ShardReply::Kind::kNoReplica:
                    if (router_->LeaderHint(shard) == target) router_->NoteLeader(shard, 0);
                    RefreshMembership();
                    return retry();
                  default:
                    break;
                }
                if (call->outcome_unknown && r.kind == ShardReply::Kind::kInteger &&
                    r.integer == 2 && call->args.size() == 4 && call->args[2] == "REMOVE") {
                  r.integer = 1;  // "not a member": our earlier, unanswered try removed it
                }
                call->done(std::move(r));
              });
}

void AdminService::CallNodeIdempotent(NodeId node, ShardId shard, std::vector<std::string> args,
                                      std::chrono::steady_clock::time_point deadline,
                                      ReplyFn done) {
  CallNodeRaw(
      node, shard, args,
      [this, node, shard, args, deadline, done](ShardReply r, Delivery delivery) {
        if (delivery == Delivery::kAnswered || std::chrono::steady_clock::now() > deadline) {
          return done(std::move(r));
        }
        runtime_->RunAfter(runtime_->tick_interval(),
                           [=, this] { CallNodeIdempotent(node, shard, args, deadline, done); });
      });
}

void AdminService::CallNode(NodeId node, ShardId shard, std::vector<std::string> args,
                            ReplyFn done) {
  CallNodeRaw(node, shard, std::move(args), [done](ShardReply r, Delivery) { done(std::move(r)); });
}

void AdminService::CallNodeRaw(NodeId node, ShardId shard, std::vector<std::string> args,
                               std::function<void(ShardReply, Delivery)> done) {
  auto decode = [done](std::string bytes) {
    Result<ShardReply> r = DecodeShardReply(bytes);
    if (!r.ok())
      return done(ShardReply::Error("ERR " + r.status().ToString()), Delivery::kAnswered);
    done(std::move(r.value()), Delivery::kAnswered);
  };
  if (node == runtime_->self()) {
    Serve(node, shard, std::move(args), decode);
    return;
  }
  // Not leader-bound: the node is asked for itself (and a transfer's answer
  // comes from a node that just stopped leading).
  runtime_->ForwardOnLoop(
      node, shard, std::move(args),
      [node, shard, decode, done](Result<std::string> reply) {
        if (!reply.ok()) {
          if (reply.status().IsTimedOut()) {
            return done(ShardReply::Error("UNAVAILABLE shard " + std::to_string(shard) +
                                          ": no answer from node " + std::to_string(node) +
                                          ", the outcome is unknown (see DKV.SHARDS)"),
                        Delivery::kUnknown);
          }
          return done(ShardReply::Error("UNAVAILABLE node " + std::to_string(node) +
                                        " is not reachable: " + reply.status().ToString()),
                      Delivery::kNotSent);
        }
        decode(std::move(reply.value()));
      },
      /*to_leader=*/false);
}

// --- Serving the steps. ---

ShardReply AdminService::NotLeaderReply(ShardId shard) {
  node::Node& node = runtime_->node();
  ShardReply r;
  if (!node.HasReplica(shard)) {
    r.kind = ShardReply::Kind::kNoReplica;
    return r;
  }
  const NodeId leader = node.LeaderOf(shard);
  if (leader == 0 || leader == runtime_->self()) return Retry();
  r.kind = ShardReply::Kind::kNotLeader;
  r.leader = leader;
  return r;
}

void AdminService::Serve(NodeId from, ShardId shard, std::vector<std::string> args,
                         std::function<void(std::string)> respond) {
  node::Node& node = runtime_->node();
  const auto bad = [&respond, from](const std::string& why) {
    spdlog::warn("node {} sent a bad admin request: {}", from, why);
    respond(Encode(ShardReply::Error("ERR bad admin request: " + why)));
  };
  if (args.size() < 2 || args[0] != "ADMIN") return bad("no verb");
  const std::string& verb = args[1];
  if (verb == "SHARDS") {
    ShardReply r;
    r.kind = ShardReply::Kind::kValues;
    // The metadata replica too: peers learn the metadata group's leader.
    for (std::string& l : ReplicaLines(true)) r.values.emplace_back(std::move(l));
    // Last, the version of the shard map this node holds: a peer that sees a
    // newer one than its own fetches it (older nodes skip the line).
    r.values.emplace_back("map_version=" + std::to_string(map_.version()));
    return respond(Encode(r));
  }
  if (verb == "META" || verb == "MAP") return ServeMeta(std::move(args), std::move(respond));
  if (shard >= config_.shards) return bad("shard out of range");
  if (verb == "JOIN") {
    if (!node.HasReplica(shard)) {
      Status s = node.CreateReplica(shard, {});
      if (!s.ok()) {
        return respond(Encode(ShardReply::Error("ERR node " + std::to_string(runtime_->self()) +
                                                " could not create a replica of shard " +
                                                std::to_string(shard) + ": " + s.ToString())));
      }
      spdlog::info("shard {}: created an empty replica that waits to be added", shard);
      router_->SetLocalServing(shard, false);
    }
    return respond(Encode(ShardReply{}));
  }
  if (verb == "DROP") {
    if (node.HasReplica(shard)) {
      if (node.LeaderOf(shard) == runtime_->self()) {
        return respond(Encode(ShardReply::Error("ERR node " + std::to_string(runtime_->self()) +
                                                " leads shard " + std::to_string(shard) +
                                                "; not dropping its replica")));
      }
      Status s = node.RemoveReplica(shard);
      if (!s.ok()) return respond(Encode(ShardReply::Error("ERR drop: " + s.ToString())));
      spdlog::info("shard {}: replica dropped (removed from the group)", shard);
      was_member_.erase(shard);
      router_->SetLocalServing(shard, true);
    }
    return respond(Encode(ShardReply{}));
  }
  uint64_t target = 0;
  if (verb == "CONF") {
    if (args.size() != 4 || !ParseU64(args[3], &target)) return bad("CONF arguments");
    return ServeConfChange(shard, args[2], target, std::move(respond),
                           2 * std::max(1, runtime_->plan().heartbeat_tick) + 2);
  }
  if (args.size() != 3 || !ParseU64(args[2], &target)) return bad(verb + " arguments");
  if (verb == "TRANSFER") return ServeTransfer(shard, target, std::move(respond));
  if (verb == "PROGRESS") {
    // The target's log match as the leader knows it, and the leader's commit.
    if (!node.HasReplica(shard) || node.LeaderOf(shard) != runtime_->self()) {
      return respond(Encode(NotLeaderReply(shard)));
    }
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
    if (!st.ok()) return respond(Encode(NotLeaderReply(shard)));
    for (const raft::PeerProgress& p : st.value().progress) {
      if (p.id != target) continue;
      ShardReply r;
      r.kind = ShardReply::Kind::kValues;
      r.values = {std::to_string(p.match), std::to_string(st.value().commit)};
      return respond(Encode(r));
    }
    return respond(Encode(ShardReply::Error("ERR node " + std::to_string(target) +
                                            " is not a member of shard " + std::to_string(shard))));
  }
  bad("unknown verb " + verb);
}

void AdminService::ServeConfChange(ShardId shard, const std::string& kind, NodeId target,
                                   std::function<void(std::string)> respond,
                                   int liveness_rechecks) {
  node::Node& node = runtime_->node();
  if (!node.HasReplica(shard) || node.LeaderOf(shard) != runtime_->self()) {
    return respond(Encode(NotLeaderReply(shard)));
  }
  Result<node::ReplicaStatus> got = node.GetReplicaStatus(shard);
  if (!got.ok()) return respond(Encode(NotLeaderReply(shard)));
  const node::ReplicaStatus& st = got.value();
  const std::string where = "shard " + std::to_string(shard);
  raft::ConfChange cc;
  cc.node_id = target;
  if (kind == "ADDLEARNER") {
    if (st.conf.IsVoter(target)) return respond(Encode(Integer(2)));
    if (st.conf.IsLearner(target)) return respond(Encode(Integer(1)));
    cc.type = raft::ConfChangeType::kAddLearner;
  } else if (kind == "ADDVOTER") {
    if (st.conf.IsVoter(target)) return respond(Encode(Integer(2)));
    cc.type = raft::ConfChangeType::kAddVoter;
  } else if (kind == "REMOVE") {
    if (!st.conf.Contains(target)) return respond(Encode(Integer(2)));
    if (st.conf.IsVoter(target) && st.conf.voters.size() == 1) {
      return respond(
          Encode(ShardReply::Error("ERR node " + std::to_string(target) + " is the last voter of " +
                                   where + "; refusing to remove it")));
    }
    if (target == runtime_->self()) {
      // A leader does not remove itself here: it hands leadership to the
      // most up-to-date live voter, and the caller retries with the new one.
      NodeId best = 0;
      uint64_t best_match = 0;
      for (const raft::PeerProgress& p : st.progress) {
        if (p.id == target || p.is_learner || !p.recent_active) continue;
        if (best == 0 || p.match > best_match) {
          best = p.id;
          best_match = p.match;
        }
      }
      if (best == 0 && liveness_rechecks > 0) {
        runtime_->RunAfter(runtime_->tick_interval(),
                           [this, shard, kind, target, respond, liveness_rechecks] {
                             ServeConfChange(shard, kind, target, respond, liveness_rechecks - 1);
                           });
        return;
      }
      if (best == 0) {
        return respond(
            Encode(ShardReply::Error("ERR node " + std::to_string(target) + " leads " + where +
                                     " and no other voter is live to take over")));
      }
      Status s = node.TransferLeadership(shard, best);
      if (!s.ok()) spdlog::info("{}: transfer before removing the leader: {}", where, s.ToString());
      return respond(Encode(Retry()));
    }
    if (st.conf.IsVoter(target)) {
      // The voters left must still have a live quorum, or the group would
      // stop committing (and this removal would never be undone).
      size_t remaining = 0, live = 0;
      for (NodeId v : st.conf.voters) {
        if (v == target) continue;
        remaining++;
        if (v == runtime_->self()) {
          live++;
          continue;
        }
        for (const raft::PeerProgress& p : st.progress) {
          if (p.id == v && p.recent_active) live++;
        }
      }
      if (live < remaining / 2 + 1) {
        if (liveness_rechecks > 0) {
          // Raft clears "recently active" once per election timeout and the
          // next heartbeat answers set it again: look again over a few
          // heartbeats before calling a voter dead.
          runtime_->RunAfter(runtime_->tick_interval(),
                             [this, shard, kind, target, respond, liveness_rechecks] {
                               ServeConfChange(shard, kind, target, respond, liveness_rechecks - 1);
                             });
          return;
        }
        return respond(Encode(ShardReply::Error(
            "ERR removing node " + std::to_string(target) + " from " + where + " would leave " +
            std::to_string(live) + " live of " + std::to_string(remaining) +
            " voters, fewer than a quorum; refusing")));
      }
    }
    cc.type = raft::ConfChangeType::kRemoveNode;
  } else {
    return respond(Encode(ShardReply::Error("ERR bad admin request: conf change " + kind)));
  }
  runtime_->ProposeConfChangeOnLoop(shard, cc, [this, shard, where, respond](Status s) {
    if (s.ok()) return respond(Encode(Integer(1)));
    if (s.IsTimedOut()) {
      return respond(Encode(ShardReply::Error("UNAVAILABLE " + where +
                                              ": the membership change timed out, its outcome is " +
                                              "unknown (see DKV.SHARDS)")));
    }
    if (s.IsAborted() || s.IsBusy()) return respond(Encode(Retry()));  // not applied
    if (s.IsUnavailable()) return respond(Encode(NotLeaderReply(shard)));
    respond(Encode(ShardReply::Error("ERR " + where + ": " + s.ToString())));
  });
}

void AdminService::ServeTransfer(ShardId shard, NodeId target,
                                 std::function<void(std::string)> respond) {
  node::Node& node = runtime_->node();
  if (!node.HasReplica(shard) || node.LeaderOf(shard) != runtime_->self()) {
    return respond(Encode(NotLeaderReply(shard)));
  }
  if (target == runtime_->self()) return respond(Encode(Integer(1)));
  Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
  if (!st.ok()) return respond(Encode(NotLeaderReply(shard)));
  if (!st.value().conf.IsVoter(target)) {
    return respond(Encode(ShardReply::Error("ERR node " + std::to_string(target) +
                                            " is not a voter of shard " + std::to_string(shard))));
  }
  Status s = node.TransferLeadership(shard, target);
  if (!s.ok()) {
    return respond(Encode(
        ShardReply::Error("ERR transfer of shard " + std::to_string(shard) + ": " + s.ToString())));
  }
  // Raft gives up a transfer after an election timeout; wait a little longer.
  const int ticks = 3 * std::max(1, runtime_->plan().election_tick);
  WaitTransfer(shard, target, ticks, std::move(respond));
}

void AdminService::WaitTransfer(ShardId shard, NodeId target, int ticks_left,
                                std::function<void(std::string)> respond) {
  node::Node& node = runtime_->node();
  if (node.HasReplica(shard) && node.LeaderOf(shard) == target) {
    router_->NoteLeader(shard, target);
    return respond(Encode(Integer(1)));
  }
  if (ticks_left <= 0) {
    return respond(Encode(ShardReply::Error("ERR leadership of shard " + std::to_string(shard) +
                                            " did not move to node " + std::to_string(target) +
                                            " in time (is it up and caught up?); try again")));
  }
  runtime_->RunAfter(runtime_->tick_interval(), [this, shard, target, ticks_left, respond] {
    WaitTransfer(shard, target, ticks_left - 1, respond);
  });
}

// --- Housekeeping and membership views. ---

std::vector<std::string> AdminService::LocalReplicaLines() { return ReplicaLines(false); }

std::vector<std::string> AdminService::ReplicaLines(bool with_metadata) {
  node::Node& node = runtime_->node();
  std::vector<std::string> lines;
  for (ShardId shard : node.Shards()) {
    if (shard == sharding::kMetadataGroupId && !with_metadata) continue;
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
    if (!st.ok()) continue;
    const node::ReplicaStatus& s = st.value();
    ReplicaView v;
    v.shard = shard;
    v.role = raft::RoleName(s.role);
    v.leader = s.leader;
    v.term = s.term;
    v.commit = s.commit;
    v.applied = s.applied;
    v.first_index = s.first_index;
    v.voters = s.conf.voters;
    v.learners = s.conf.learners;
    lines.push_back(FormatReplicaLine(v));
  }
  return lines;
}

void AdminService::LearnView(const ReplicaView& v) {
  if (v.voters.empty()) return;
  if (v.shard == sharding::kMetadataGroupId) {
    // Its leader, for sending map changes; its membership never changes.
    if (v.role == "leader") router_->NoteLeader(v.shard, v.node);
    return;
  }
  if (v.shard >= config_.shards) return;
  MaybeDropStale(v);
  // Only a replica that is a voter of its own membership speaks for it (a
  // removed replica that never learned of it still lists itself).
  if (std::find(v.voters.begin(), v.voters.end(), v.node) == v.voters.end()) return;
  router_->SetMembers(v.shard, v.voters, v.role == "leader" ? v.node : 0);
}

void AdminService::MaybeDropStale(const ReplicaView& leader_view) {
  // A replica removed while this node was down or cut off never got its
  // ADMIN DROP and never applies its removal (nobody sends it the log). The
  // leader's word settles it: a leader whose applied membership, at an index
  // beyond everything this replica applied, lists this node neither as voter
  // nor as learner has removed it. Only replicas that were members here are
  // dropped (a joining replica applies older memberships on its way up).
  const NodeId self = runtime_->self();
  if (leader_view.role != "leader" || leader_view.node == self) return;
  node::Node& node = runtime_->node();
  const ShardId shard = leader_view.shard;
  if (!node.HasReplica(shard) || was_member_.count(shard) == 0) return;
  auto listed = [self](const std::vector<NodeId>& ids) {
    return std::find(ids.begin(), ids.end(), self) != ids.end();
  };
  if (listed(leader_view.voters) || listed(leader_view.learners)) return;
  Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
  if (!st.ok() || st.value().role == raft::Role::kLeader) return;
  if (leader_view.term < st.value().term || leader_view.applied <= st.value().applied) return;
  Status s = node.RemoveReplica(shard);
  spdlog::warn(
      "shard {}: leader {} (term {}, applied {}) no longer lists this node; stale "
      "replica (applied {}) dropped: {}",
      shard, leader_view.node, leader_view.term, leader_view.applied, st.value().applied,
      s.ToString());
  was_member_.erase(shard);
  router_->SetLocalServing(shard, true);
}

void AdminService::RefreshMembership() {
  for (const cluster::NodeConfig& n : config_.nodes) {
    if (n.id == runtime_->self()) continue;
    CallNode(n.id, 0, {"ADMIN", "SHARDS"}, [this, from = n.id](ShardReply r) {
      if (r.kind != ShardReply::Kind::kValues) return;
      if (!r.values.empty() && r.values.back()) NotePeerMapVersion(from, *r.values.back());
      for (const auto& l : r.values) {
        if (!l) continue;
        Result<ReplicaView> v = ParseReplicaLine(*l);
        if (!v.ok()) continue;
        v.value().node = from;
        LearnView(v.value());
      }
    });
  }
}

void AdminService::Start() {
  router_->SetRefresher([this] {
    RefreshMembership();
    if (!runtime_->node().HasReplica(sharding::kMetadataGroupId)) PollMap(/*now=*/true);
  });
  router_->SetMembers(sharding::kMetadataGroupId, meta_voters_, 0);
  Housekeeping();
  RefreshMembership();
}

void AdminService::Housekeeping() {
  node::Node& node = runtime_->node();
  const NodeId self = runtime_->self();
  size_t leaderless = 0;
  for (ShardId shard : node.Shards()) {
    Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
    if (!st.ok()) continue;
    const bool member = st.value().conf.Contains(self);
    if (member) was_member_.insert(shard);
    if (st.value().removed && was_member_.count(shard) > 0) {
      // The group's membership (as this replica applied it) no longer lists
      // this node: nobody sends it the log any more.
      Status s = node.RemoveReplica(shard);
      spdlog::info("shard {}: this node was removed from the group; replica dropped: {}", shard,
                   s.ToString());
      router_->SetLocalServing(shard, true);
      was_member_.erase(shard);
      continue;
    }
    if (st.value().leader == 0) leaderless++;
    const bool voter = st.value().conf.IsVoter(self);
    router_->SetLocalServing(shard, voter);
    if (voter) router_->SetMembers(shard, st.value().conf.voters, st.value().leader);
  }
  // A replica without a leader may be one the group removed while this node
  // was away: ask the peers now and then (their leaders' views drop it).
  const auto now = std::chrono::steady_clock::now();
  if (leaderless > 0 && now - last_leaderless_refresh_ > kLeaderlessRefreshInterval) {
    last_leaderless_refresh_ = now;
    RefreshMembership();
  }
  MetaHousekeeping();
  const auto period = runtime_->tick_interval() * kAdminHousekeepingTicks;
  runtime_->RunAfter(period, [this] { Housekeeping(); });
}

}  // namespace dkv::runtime

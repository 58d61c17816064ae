#include "runtime/shard_router.h"

#include <spdlog/spdlog.h>

#include <charconv>

#include "common/assert.h"
#include "node/limits.h"
#include "runtime/limits.h"

namespace dkv::runtime {

namespace {

std::string NoLeaderText(ShardId shard) {
  return "UNAVAILABLE shard " + std::to_string(shard) + " has no leader";
}

// Parses a decimal number that ends at `end`; false on anything else.
bool ParseUint(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Reads one CRLF-terminated line starting at *pos.
bool ReadLine(std::string_view in, size_t* pos, std::string_view* line) {
  const size_t end = in.find("\r\n", *pos);
  if (end == std::string_view::npos) return false;
  *line = in.substr(*pos, end - *pos);
  *pos = end + 2;
  return true;
}

}  // namespace

std::vector<std::string> ShardOp::ToArgs() const {
  std::vector<std::string> args;
  args.reserve(1 + keys.size() * 2);
  switch (kind) {
    case Kind::kPut:
      DKV_ASSERT(keys.size() == values.size());
      args.push_back("PUT");
      for (size_t i = 0; i < keys.size(); i++) {
        args.push_back(keys[i]);
        args.push_back(values[i]);
      }
      break;
    case Kind::kDelete:
      args.push_back("DEL");
      args.insert(args.end(), keys.begin(), keys.end());
      break;
    case Kind::kGet:
      args.push_back("GET");
      args.insert(args.end(), keys.begin(), keys.end());
      break;
    case Kind::kScan:
      DKV_ASSERT(keys.size() == 1);
      args.push_back("SCAN");
      args.push_back(std::to_string(limit));
      args.push_back(keys[0]);
      break;
    case Kind::kEval:
      args.push_back("EVAL");
      args.push_back(node::EncodeShardCommand(node::ShardCommand::Eval(eval)));
      break;
  }
  return args;
}

Result<ShardOp> ShardOp::FromArgs(ShardId shard, const std::vector<std::string>& args) {
  if (args.size() < 2) return Status::InvalidArgument("forwarded request", "too few arguments");
  ShardOp op;
  op.shard = shard;
  if (args[0] == "PUT") {
    if (args.size() % 2 != 1) return Status::InvalidArgument("forwarded PUT", "odd arguments");
    op.kind = Kind::kPut;
    for (size_t i = 1; i < args.size(); i += 2) {
      op.keys.push_back(args[i]);
      op.values.push_back(args[i + 1]);
    }
  } else if (args[0] == "SCAN") {
    uint64_t limit = 0;
    if (args.size() != 3 || !ParseUint(args[1], &limit) || limit < 1 || limit > kMaxScanPage ||
        args[2].size() > node::kMaxKeyBytes) {
      return Status::InvalidArgument("forwarded SCAN", "bad limit or cursor");
    }
    op.kind = Kind::kScan;
    op.limit = limit;
    op.keys.push_back(args[2]);
  } else if (args[0] == "EVAL") {
    if (args.size() != 2) return Status::InvalidArgument("forwarded EVAL", "one command expected");
    Result<node::ShardCommand> cmd = node::DecodeShardCommand(args[1]);
    if (!cmd.ok()) return Status::InvalidArgument("forwarded EVAL", cmd.status().ToString());
    if (cmd->type != node::CommandType::kEval || cmd->ts != Timestamp{}) {
      return Status::InvalidArgument("forwarded EVAL", "not an eval command");
    }
    op.kind = Kind::kEval;
    op.keys.push_back(cmd->eval.key);
    op.eval = std::move(cmd->eval);
  } else if (args[0] == "DEL" || args[0] == "GET") {
    op.kind = args[0] == "DEL" ? Kind::kDelete : Kind::kGet;
    op.keys.assign(args.begin() + 1, args.end());
  } else {
    return Status::InvalidArgument("forwarded request", "unknown operation");
  }
  if (op.keys.size() > node::kMaxOpsPerCommand) {
    return Status::InvalidArgument("forwarded request", "too many keys");
  }
  return op;
}

std::string EncodeShardReply(const ShardReply& reply) {
  std::string out;
  switch (reply.kind) {
    case ShardReply::Kind::kOk:
      out = "+OK\r\n";
      break;
    case ShardReply::Kind::kInteger:
      out = ":" + std::to_string(reply.integer) + "\r\n";
      break;
    case ShardReply::Kind::kValues:
      out = "*" + std::to_string(reply.values.size()) + "\r\n";
      for (const auto& v : reply.values) {
        if (!v) {
          out += "$-1\r\n";
        } else {
          out += "$" + std::to_string(v->size()) + "\r\n";
          out += *v;
          out += "\r\n";
        }
      }
      break;
    case ShardReply::Kind::kNotLeader:
      out = "-NOTLEADER " + std::to_string(reply.leader) + "\r\n";
      break;
    case ShardReply::Kind::kNoLeader:
      out = "-NOLEADER\r\n";
      break;
    case ShardReply::Kind::kNoReplica:
      out = "-NOREPLICA\r\n";
      break;
    case ShardReply::Kind::kError: {
      std::string text = reply.error;
      for (char& c : text) {
        if (c == '\r' || c == '\n') c = ' ';
      }
      out = "-" + text + "\r\n";
      break;
    }
  }
  return out;
}

Result<ShardReply> DecodeShardReply(std::string_view in) {
  const Status bad = Status::Corruption("forward response", "malformed reply");
  size_t pos = 0;
  std::string_view line;
  if (!ReadLine(in, &pos, &line) || line.empty()) return bad;
  ShardReply r;
  const std::string_view rest = line.substr(1);
  switch (line[0]) {
    case '+':
      if (rest != "OK") return bad;
      r.kind = ShardReply::Kind::kOk;
      break;
    case ':': {
      int64_t n = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
      if (rest.empty() || ec != std::errc() || p != rest.data() + rest.size()) return bad;
      r.kind = ShardReply::Kind::kInteger;
      r.integer = n;
      break;
    }
    case '-':
      if (rest.rfind("NOTLEADER ", 0) == 0) {
        uint64_t leader = 0;
        if (!ParseUint(rest.substr(10), &leader)) return bad;
        r.kind = ShardReply::Kind::kNotLeader;
        r.leader = leader;
      } else if (rest == "NOLEADER") {
        r.kind = ShardReply::Kind::kNoLeader;
      } else if (rest == "NOREPLICA") {
        r.kind = ShardReply::Kind::kNoReplica;
      } else {
        r = ShardReply::Error(std::string(rest));
      }
      break;
    case '*': {
      uint64_t n = 0;
      if (!ParseUint(rest, &n) || n > node::kMaxOpsPerCommand) return bad;
      r.kind = ShardReply::Kind::kValues;
      for (uint64_t i = 0; i < n; i++) {
        if (!ReadLine(in, &pos, &line) || line.empty() || line[0] != '$') return bad;
        if (line == "$-1") {
          r.values.push_back(std::nullopt);
          continue;
        }
        uint64_t len = 0;
        if (!ParseUint(line.substr(1), &len) || len > node::kMaxValueBytes) return bad;
        if (in.size() - pos < len + 2 || in.substr(pos + len, 2) != "\r\n") return bad;
        r.values.emplace_back(std::string(in.substr(pos, len)));
        pos += len + 2;
      }
      break;
    }
    default:
      return bad;
  }
  if (pos != in.size()) return bad;
  return r;
}

struct ShardRouter::RouteState {
  ShardOp op;
  std::function<void(ShardReply)> done;
  std::chrono::steady_clock::time_point deadline;
  int attempts = 0;
};

ShardRouter::ShardRouter(NodeRuntime* runtime, const sharding::ShardMap& map)
    : runtime_(runtime), ring_(map.BuildRing()) {
  for (const sharding::ShardInfo& s : map.shards()) members_[s.id] = s.replicas;
}

ShardId ShardRouter::ShardFor(std::string_view key) const {
  Result<sharding::ShardId> shard = ring_.ShardFor(key);
  DKV_ASSERT(shard.ok());  // the cluster config always has shards
  return shard.value();
}

void ShardRouter::Route(ShardOp op, std::function<void(ShardReply)> done) {
  auto st = std::make_shared<RouteState>();
  st->op = std::move(op);
  st->done = std::move(done);
  st->deadline = std::chrono::steady_clock::now() + kNoLeaderWait;
  Attempt(std::move(st));
}

void ShardRouter::RetryLater(std::shared_ptr<RouteState> st) {
  runtime_->RunAfter(runtime_->tick_interval(), [this, st] { Attempt(st); });
}

void ShardRouter::Attempt(std::shared_ptr<RouteState> st) {
  const ShardId shard = st->op.shard;
  if (++st->attempts > kMaxRouteAttempts || std::chrono::steady_clock::now() > st->deadline) {
    st->done(ShardReply::Error(NoLeaderText(shard)));
    return;
  }
  node::Node& node = runtime_->node();
  // A replica that is joining, a learner, or removed does not serve here;
  // the request goes to the members instead.
  const bool local = node.HasReplica(shard) && LocalServing(shard);
  const NodeId local_leader = local ? node.LeaderOf(shard) : 0;
  if (local && (st->op.is_read() || local_leader == runtime_->self())) {
    ExecuteLocal(st->op, [this, st](ShardReply r) {
      if (r.kind == ShardReply::Kind::kNotLeader || r.kind == ShardReply::Kind::kNoLeader ||
          r.kind == ShardReply::Kind::kNoReplica) {
        // Lost leadership, no leader yet, or the replica was just dropped:
        // certainly not executed.
        RetryLater(st);
        return;
      }
      st->done(std::move(r));
    });
    return;
  }
  NodeId target = local ? local_leader : PickTarget(shard, st->attempts);
  if (target == 0 || target == runtime_->self()) {
    RetryLater(st);
    return;
  }
  runtime_->ForwardOnLoop(
      target, shard, st->op.ToArgs(), [this, st, target](Result<std::string> reply) {
        const ShardId shard = st->op.shard;
        if (!reply.ok()) {
          if (reply.status().IsTimedOut() && !st->op.is_read()) {
            // The write may or may not have been applied: say so, never retry
            // it behind the back of a later write.
            st->done(ShardReply::Error("UNAVAILABLE shard " + std::to_string(shard) +
                                       ": no answer from node " + std::to_string(target) +
                                       ", the write's outcome is unknown"));
            return;
          }
          leader_hints_.erase(shard);
          RetryLater(st);  // not sent (peer down, queue full), or a read: safe to retry
          return;
        }
        Result<ShardReply> r = DecodeShardReply(reply.value());
        if (!r.ok()) {
          st->done(ShardReply::Error("ERR " + r.status().ToString()));
          return;
        }
        switch (r.value().kind) {
          case ShardReply::Kind::kNotLeader:
            if (r.value().leader != 0 && r.value().leader != target) {
              leader_hints_[shard] = r.value().leader;
            } else {
              // No better hint: this node's view (and maybe its shard map)
              // is stale; ask again (rate-limited).
              leader_hints_.erase(shard);
              MaybeRefresh();
            }
            RetryLater(st);
            return;
          case ShardReply::Kind::kNoLeader:
            RetryLater(st);
            return;
          case ShardReply::Kind::kNoReplica:
            // The node no longer (or not yet) serves the shard: our view of
            // the membership is stale. Certainly not executed.
            if (LeaderHint(shard) == target) leader_hints_.erase(shard);
            MaybeRefresh();
            RetryLater(st);
            return;
          default:
            if (!st->op.is_read()) leader_hints_[shard] = target;  // it led the shard
            st->done(std::move(r.value()));
            return;
        }
      });
}

NodeId ShardRouter::PickTarget(ShardId shard, int attempt) const {
  if (auto h = leader_hints_.find(shard); h != leader_hints_.end() && h->second != runtime_->self())
    return h->second;
  auto it = members_.find(shard);
  if (it == members_.end() || it->second.empty()) return 0;
  const std::vector<NodeId>& reps = it->second;
  for (size_t i = 0; i < reps.size(); i++) {
    const NodeId n = reps[(static_cast<size_t>(attempt) + i) % reps.size()];
    if (n != runtime_->self()) return n;
  }
  return 0;
}

void ShardRouter::SetLocalServing(ShardId shard, bool serving) {
  if (serving) {
    local_serving_.erase(shard);
  } else {
    local_serving_[shard] = false;
  }
}

bool ShardRouter::LocalServing(ShardId shard) { return local_serving_.count(shard) == 0; }

void ShardRouter::SetMembers(ShardId shard, std::vector<NodeId> voters, NodeId leader) {
  if (!voters.empty()) members_[shard] = std::move(voters);
  if (leader != 0) leader_hints_[shard] = leader;
}

const std::vector<NodeId>& ShardRouter::Members(ShardId shard) const {
  static const std::vector<NodeId> kNone;
  auto it = members_.find(shard);
  return it == members_.end() ? kNone : it->second;
}

NodeId ShardRouter::LeaderHint(ShardId shard) const {
  auto it = leader_hints_.find(shard);
  return it == leader_hints_.end() ? 0 : it->second;
}

void ShardRouter::NoteLeader(ShardId shard, NodeId leader) {
  if (leader == 0) {
    leader_hints_.erase(shard);
  } else {
    leader_hints_[shard] = leader;
  }
}

void ShardRouter::MaybeRefresh() {
  const auto now = std::chrono::steady_clock::now();
  if (refresher_ == nullptr || now - last_refresh_ < kMembershipRefreshInterval) return;
  last_refresh_ = now;
  refresher_();
}

ShardReply ShardRouter::FromLocalError(ShardId shard, const Status& s) {
  DKV_ASSERT(!s.ok());
  const std::string where = "shard " + std::to_string(shard) + ": ";
  if (s.IsUnavailable()) {
    node::Node& node = runtime_->node();
    if (!node.HasReplica(shard)) return ShardReply::Error("UNAVAILABLE " + where + s.message());
    ShardReply r;
    const NodeId leader = node.LeaderOf(shard);
    if (leader == 0 || leader == runtime_->self()) {
      r.kind = ShardReply::Kind::kNoLeader;
    } else {
      r.kind = ShardReply::Kind::kNotLeader;
      r.leader = leader;
    }
    return r;
  }
  if (s.IsAborted()) {
    // Certainly not applied (another leader's entry took its place): retry.
    ShardReply r;
    r.kind = ShardReply::Kind::kNoLeader;
    return r;
  }
  if (s.IsTimedOut()) {
    return ShardReply::Error("UNAVAILABLE " + where + "timed out, the outcome is unknown");
  }
  if (s.IsResourceExhausted()) return ShardReply::Error("BUSY " + where + s.message());
  if (s.IsInvalidArgument()) return ShardReply::Error("ERR " + s.message());
  if (s.IsNotFound()) {
    ShardReply r;  // no replica here (dropped since): certainly not executed
    r.kind = ShardReply::Kind::kNoReplica;
    return r;
  }
  return ShardReply::Error("ERR " + where + s.ToString());
}

void ShardRouter::ExecuteLocal(const ShardOp& op, std::function<void(ShardReply)> done) {
  const ShardId shard = op.shard;
  switch (op.kind) {
    case ShardOp::Kind::kPut: {
      std::vector<node::WriteOp> ops;
      ops.reserve(op.keys.size());
      for (size_t i = 0; i < op.keys.size(); i++) {
        ops.push_back(node::WriteOp{node::OpType::kPut, op.keys[i], op.values[i]});
      }
      runtime_->SubmitOnLoop(shard, node::ShardCommand::Write(std::move(ops)),
                             [this, shard, done = std::move(done)](Status s) {
                               if (s.ok()) {
                                 done(ShardReply{});
                               } else {
                                 done(FromLocalError(shard, s));
                               }
                             });
      return;
    }
    case ShardOp::Kind::kDelete:
      ExecuteDelete(op, std::move(done));
      return;
    case ShardOp::Kind::kEval:
      ExecuteEval(op, std::move(done));
      return;
    case ShardOp::Kind::kScan:
      ExecuteScan(op, std::move(done));
      return;
    case ShardOp::Kind::kGet: {
      struct Gather {
        ShardReply reply;
        size_t remaining = 0;
        bool failed = false;
        std::function<void(ShardReply)> done;
      };
      DKV_ASSERT(!op.keys.empty());
      auto g = std::make_shared<Gather>();
      g->reply.kind = ShardReply::Kind::kValues;
      g->reply.values.resize(op.keys.size());
      g->remaining = op.keys.size();
      g->done = std::move(done);
      for (size_t i = 0; i < op.keys.size(); i++) {
        runtime_->ReadOnLoop(shard, op.keys[i],
                             [this, g, i, shard](Status s, bool found, std::string value) {
                               if (g->failed) return;
                               if (!s.ok()) {
                                 g->failed = true;
                                 g->done(FromReadError(shard, s));
                                 return;
                               }
                               if (found) g->reply.values[i] = std::move(value);
                               if (--g->remaining == 0) g->done(std::move(g->reply));
                             });
      }
      return;
    }
  }
}

void ShardRouter::ExecuteDelete(const ShardOp& op, std::function<void(ShardReply)> done) {
  // DEL answers how many keys existed: read them (linearizably, on the
  // leader), then propose the deletes. A write landing between the two can
  // make the count off by that write (docs/runtime.md); the data is right.
  const ShardId shard = op.shard;
  if (runtime_->node().LeaderOf(shard) != runtime_->self()) {
    done(FromLocalError(shard, Status::Unavailable("not leader")));
    return;
  }
  ShardOp read = op;
  read.kind = ShardOp::Kind::kGet;
  ExecuteLocal(read, [this, op, done = std::move(done)](ShardReply r) mutable {
    if (r.kind != ShardReply::Kind::kValues) {
      done(std::move(r));
      return;
    }
    int64_t existed = 0;
    for (const auto& v : r.values) existed += v ? 1 : 0;
    std::vector<node::WriteOp> ops;
    for (const std::string& k : op.keys) ops.push_back(node::WriteOp{node::OpType::kDelete, k, {}});
    const ShardId shard = op.shard;
    runtime_->SubmitOnLoop(shard, node::ShardCommand::Write(std::move(ops)),
                           [this, shard, existed, done = std::move(done)](Status s) {
                             if (!s.ok()) {
                               done(FromLocalError(shard, s));
                               return;
                             }
                             ShardReply out;
                             out.kind = ShardReply::Kind::kInteger;
                             out.integer = existed;
                             done(std::move(out));
                           });
  });
}

ShardReply ShardRouter::FromReadError(ShardId shard, const Status& s) {
  ShardReply r;
  r.kind = ShardReply::Kind::kNoLeader;  // timed out: retry
  if (!runtime_->node().HasReplica(shard)) {
    r.kind = ShardReply::Kind::kNoReplica;  // dropped: retry
  } else if (!s.IsTimedOut()) {
    r = FromLocalError(shard, s);
  }
  return r;
}

void ShardRouter::ExecuteScan(const ShardOp& op, std::function<void(ShardReply)> done) {
  // A ReadIndex read of any key first: once it completes, this replica has
  // applied everything committed before the scan began, so the page is
  // linearizable for this shard (the loop runs nothing in between).
  const ShardId shard = op.shard;
  DKV_ASSERT(op.keys.size() == 1 && op.limit >= 1);
  runtime_->ReadOnLoop(shard, "scan",
                       [this, shard, after = op.keys[0], limit = op.limit, done = std::move(done)](
                           Status s, bool, std::string) {
                         if (!s.ok()) return done(FromReadError(shard, s));
                         std::vector<std::string> keys;
                         std::string next;
                         s = runtime_->node().LocalScanKeys(shard, after, limit, &keys, &next);
                         if (!s.ok()) return done(FromReadError(shard, s));
                         ShardReply r;
                         r.kind = ShardReply::Kind::kValues;
                         r.values.reserve(keys.size() + 1);
                         if (next.empty()) {
                           r.values.push_back(std::nullopt);
                         } else {
                           r.values.push_back(std::move(next));
                         }
                         for (std::string& k : keys) r.values.push_back(std::move(k));
                         done(std::move(r));
                       });
}

void ShardRouter::ExecuteEval(const ShardOp& op, std::function<void(ShardReply)> done) {
  const ShardId shard = op.shard;
  runtime_->SubmitEvalOnLoop(
      shard, node::ShardCommand::Eval(op.eval),
      [this, shard, done = std::move(done)](Status s, std::string result) {
        // A read-modify-write must never run twice: it is retried (through
        // FromLocalError's internal kinds) only when certainly not applied --
        // refused before proposing ("not leader") or Aborted (another
        // leader's entry took its slot). A proposal the node gave up on for
        // another reason (covered by an installed snapshot, replica removed)
        // may have been applied: its outcome is unknown, and the client is
        // told so.
        if (s.IsUnavailable() && s.message().rfind("not leader", 0) != 0) {
          return done(ShardReply::Error("UNAVAILABLE shard " + std::to_string(shard) +
                                        ": the outcome is unknown (" + s.message() + ")"));
        }
        if (!s.ok()) return done(FromLocalError(shard, s));
        Result<node::EvalResult> r = node::DecodeEvalResult(result);
        if (!r.ok()) {
          // Applied, but the answer is lost: say so rather than guess.
          return done(ShardReply::Error("ERR shard " + std::to_string(shard) +
                                        ": the command was applied but its answer is missing"));
        }
        ShardReply out;
        switch (r->kind) {
          case node::EvalResult::Kind::kOk:
            out.kind = ShardReply::Kind::kOk;
            break;
          case node::EvalResult::Kind::kNull:
            out.kind = ShardReply::Kind::kValues;
            out.values.push_back(std::nullopt);
            break;
          case node::EvalResult::Kind::kBulk:
            out.kind = ShardReply::Kind::kValues;
            out.values.push_back(std::move(r->text));
            break;
          case node::EvalResult::Kind::kInteger:
            out.kind = ShardReply::Kind::kInteger;
            out.integer = r->integer;
            break;
          case node::EvalResult::Kind::kError:
            out = ShardReply::Error(std::move(r->text));
            break;
        }
        done(std::move(out));
      });
}

void ShardRouter::ServeForward(NodeId from, ShardId shard, std::vector<std::string> args,
                               std::function<void(std::string reply)> respond) {
  if (!args.empty() && args[0] == "ADMIN") {
    if (admin_server_ == nullptr) {
      respond(EncodeShardReply(ShardReply::Error("ERR admin requests are not served here")));
      return;
    }
    admin_server_(from, shard, std::move(args), std::move(respond));
    return;
  }
  Result<ShardOp> op = ShardOp::FromArgs(shard, args);
  if (!op.ok()) {
    spdlog::warn("node {} forwarded a bad request: {}", from, op.status().ToString());
    respond(EncodeShardReply(ShardReply::Error("ERR " + op.status().ToString())));
    return;
  }
  node::Node& node = runtime_->node();
  if (!node.HasReplica(shard) || !LocalServing(shard)) {
    // Not (or no longer, or not yet) a serving member: the sender retries
    // elsewhere and refreshes its view of the membership.
    ShardReply r;
    r.kind = ShardReply::Kind::kNoReplica;
    respond(EncodeShardReply(r));
    return;
  }
  if (!op.value().is_read() && node.LeaderOf(shard) != runtime_->self()) {
    respond(EncodeShardReply(FromLocalError(shard, Status::Unavailable("not leader"))));
    return;
  }
  ExecuteLocal(op.value(),
               [respond = std::move(respond)](ShardReply r) { respond(EncodeShardReply(r)); });
}

}  // namespace dkv::runtime

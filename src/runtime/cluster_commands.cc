#include "runtime/cluster_commands.h"

#include <algorithm>
#include <map>
#include <memory>

#include "common/assert.h"
#include "node/limits.h"
#include "raft/types.h"
#include "server/reply.h"

namespace dkv::runtime {

namespace {

std::string ArityError(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return "ERR wrong number of arguments for '" + lower + "' command";
}

std::string ErrorReply(int protocol, const std::string& text) {
  std::string out;
  server::ReplyBuilder(&out, protocol).Error(text);
  return out;
}

}  // namespace

std::string UnsupportedCommandError(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  return "ERR command '" + lower + "' is not supported in cluster mode yet";
}

ClusterCommands::ClusterCommands(NodeRuntime* runtime, ShardRouter* router)
    : runtime_(runtime), router_(router) {}

bool ClusterCommands::IsShardCommand(const std::string& n) {
  return n == "GET" || n == "SET" || n == "DEL" || n == "EXISTS" || n == "MGET" || n == "MSET" ||
         n == "DKV.STATUS" || AdminService::IsAdminCommand(n);
}

void ClusterCommands::Execute(std::string upper_name, std::vector<std::string> argv, int protocol,
                              std::function<void(std::string)> done) {
  runtime_->Post([this, name = std::move(upper_name), argv = std::move(argv), protocol,
                  done = std::move(done)]() mutable {
    ExecuteOnLoop(name, std::move(argv), protocol, std::move(done));
  });
}

void ClusterCommands::Fanout(
    ShardOp::Kind kind, const std::vector<std::string>& keys,
    const std::vector<std::string>& values,
    std::function<void(std::vector<ShardReply>, std::vector<std::vector<size_t>>)> merge) {
  std::map<ShardId, ShardOp> ops;
  std::map<ShardId, std::vector<size_t>> positions;
  for (size_t i = 0; i < keys.size(); i++) {
    const ShardId shard = router_->ShardFor(keys[i]);
    ShardOp& op = ops[shard];
    op.kind = kind;
    op.shard = shard;
    op.keys.push_back(keys[i]);
    if (kind == ShardOp::Kind::kPut) op.values.push_back(values[i]);
    positions[shard].push_back(i);
  }
  struct Gather {
    std::vector<ShardReply> replies;
    std::vector<std::vector<size_t>> positions;
    size_t remaining = 0;
    std::function<void(std::vector<ShardReply>, std::vector<std::vector<size_t>>)> merge;
  };
  auto g = std::make_shared<Gather>();
  g->replies.resize(ops.size());
  g->remaining = ops.size();
  g->merge = std::move(merge);
  for (auto& [shard, pos] : positions) g->positions.push_back(std::move(pos));
  DKV_ASSERT(g->remaining > 0);
  size_t slot = 0;
  for (auto& [shard, op] : ops) {
    router_->Route(std::move(op), [g, slot](ShardReply r) {
      g->replies[slot] = std::move(r);
      if (--g->remaining == 0) g->merge(std::move(g->replies), std::move(g->positions));
    });
    slot++;
  }
}

void ClusterCommands::ExecuteOnLoop(const std::string& name, std::vector<std::string> argv,
                                    int protocol, std::function<void(std::string)> done) {
  // The first error of any shard is the command's reply (shards in order).
  auto first_error = [](const std::vector<ShardReply>& replies) -> const ShardReply* {
    for (const ShardReply& r : replies) {
      if (r.kind == ShardReply::Kind::kError) return &r;
    }
    return nullptr;
  };
  const size_t argc = argv.size();
  if (name == "GET" || name == "MGET") {
    if ((name == "GET" && argc != 2) || argc < 2)
      return done(ErrorReply(protocol, ArityError(name)));
    std::vector<std::string> keys(argv.begin() + 1, argv.end());
    const bool single = name == "GET";
    const size_t n = keys.size();
    Fanout(ShardOp::Kind::kGet, keys, {},
           [protocol, single, n, first_error, done](std::vector<ShardReply> replies,
                                                    std::vector<std::vector<size_t>> pos) {
             if (const ShardReply* e = first_error(replies))
               return done(ErrorReply(protocol, e->error));
             std::vector<std::optional<std::string>> values(n);
             for (size_t s = 0; s < replies.size(); s++) {
               DKV_ASSERT(replies[s].values.size() == pos[s].size());
               for (size_t j = 0; j < pos[s].size(); j++)
                 values[pos[s][j]] = std::move(replies[s].values[j]);
             }
             std::string out;
             server::ReplyBuilder b(&out, protocol);
             if (!single) b.ArrayHeader(static_cast<int64_t>(n));
             for (const auto& v : values) {
               if (v) {
                 b.Bulk(*v);
               } else {
                 b.Null();
               }
             }
             done(std::move(out));
           });
    return;
  }
  if (name == "EXISTS") {
    if (argc < 2) return done(ErrorReply(protocol, ArityError(name)));
    std::vector<std::string> keys(argv.begin() + 1, argv.end());
    Fanout(ShardOp::Kind::kGet, keys, {},
           [protocol, first_error, done](std::vector<ShardReply> replies,
                                         std::vector<std::vector<size_t>>) {
             if (const ShardReply* e = first_error(replies))
               return done(ErrorReply(protocol, e->error));
             int64_t count = 0;
             for (const ShardReply& r : replies) {
               for (const auto& v : r.values) count += v ? 1 : 0;
             }
             std::string out;
             server::ReplyBuilder(&out, protocol).Integer(count);
             done(std::move(out));
           });
    return;
  }
  if (name == "SET" || name == "MSET") {
    if (name == "SET" && argc > 3) {
      return done(ErrorReply(protocol, "ERR SET options are not supported in cluster mode yet"));
    }
    if ((name == "SET" && argc != 3) || argc < 3 || argc % 2 != 1) {
      return done(ErrorReply(protocol, ArityError(name)));
    }
    // A key given twice takes its last value (as in Redis): keep one put per key.
    std::vector<std::string> keys, values;
    std::map<std::string_view, size_t> seen;
    for (size_t i = 1; i + 1 < argc; i += 2) {
      auto [it, inserted] = seen.emplace(argv[i], keys.size());
      if (inserted) {
        keys.push_back(argv[i]);
        values.push_back(argv[i + 1]);
      } else {
        values[it->second] = argv[i + 1];
      }
    }
    if (keys.size() > node::kMaxOpsPerCommand) {
      return done(ErrorReply(protocol, "ERR too many keys in one command for cluster mode (max " +
                                           std::to_string(node::kMaxOpsPerCommand) + ")"));
    }
    Fanout(ShardOp::Kind::kPut, keys, values,
           [protocol, first_error, done](std::vector<ShardReply> replies,
                                         std::vector<std::vector<size_t>>) {
             if (const ShardReply* e = first_error(replies))
               return done(ErrorReply(protocol, e->error));
             std::string out;
             server::ReplyBuilder(&out, protocol).Ok();
             done(std::move(out));
           });
    return;
  }
  if (name == "DEL") {
    if (argc < 2) return done(ErrorReply(protocol, ArityError(name)));
    std::vector<std::string> keys;
    std::map<std::string_view, bool> seen;
    for (size_t i = 1; i < argc; i++) {
      if (seen.emplace(argv[i], true).second) keys.push_back(argv[i]);
    }
    if (keys.size() > node::kMaxOpsPerCommand) {
      return done(ErrorReply(protocol, "ERR too many keys in one command for cluster mode (max " +
                                           std::to_string(node::kMaxOpsPerCommand) + ")"));
    }
    Fanout(ShardOp::Kind::kDelete, keys, {},
           [protocol, first_error, done](std::vector<ShardReply> replies,
                                         std::vector<std::vector<size_t>>) {
             if (const ShardReply* e = first_error(replies))
               return done(ErrorReply(protocol, e->error));
             int64_t count = 0;
             for (const ShardReply& r : replies) count += r.integer;
             std::string out;
             server::ReplyBuilder(&out, protocol).Integer(count);
             done(std::move(out));
           });
    return;
  }
  if (name == "DKV.STATUS") {
    if (argc != 1) return done(ErrorReply(protocol, ArityError(name)));
    return Status(protocol, std::move(done));
  }
  if (AdminService::IsAdminCommand(name) && admin_ != nullptr) {
    return admin_->Execute(name, argv, protocol, std::move(done));
  }
  done(ErrorReply(protocol, UnsupportedCommandError(name)));
}

void ClusterCommands::Status(int protocol, std::function<void(std::string)> done) {
  // One line per shard replica on this node (role, leader, term, commit,
  // applied, and the membership it applied).
  std::vector<std::string> lines;
  if (admin_ != nullptr) {
    lines = admin_->LocalReplicaLines();
  } else {
    node::Node& node = runtime_->node();
    for (ShardId shard : node.Shards()) {
      Result<node::ReplicaStatus> st = node.GetReplicaStatus(shard);
      if (!st.ok()) continue;
      const node::ReplicaStatus& s = st.value();
      lines.push_back(
          "shard=" + std::to_string(shard) + " role=" + std::string(raft::RoleName(s.role)) +
          " leader=" + std::to_string(s.leader) + " term=" + std::to_string(s.term) +
          " commit=" + std::to_string(s.commit) + " applied=" + std::to_string(s.applied));
    }
  }
  std::string out;
  server::ReplyBuilder b(&out, protocol);
  b.ArrayHeader(static_cast<int64_t>(lines.size()));
  for (const std::string& l : lines) b.Bulk(l);
  done(std::move(out));
}

}  // namespace dkv::runtime

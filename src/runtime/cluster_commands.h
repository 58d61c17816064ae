// ClusterCommands: the client commands of a distkv-server in cluster mode.
// It turns one parsed command (argv) into shard operations -- multi-key
// commands (MGET, MSET, DEL, EXISTS) split by shard; read-modify-writes (SET
// with options, SETNX, INCR..., EXPIRE..., TTL, GETDEL, GETEX, APPEND) as
// one kEval evaluated at apply time on the key's shard; STRLEN, GETRANGE and
// TYPE from a linearizable read -- runs them through the
// ShardRouter, merges the answers and writes the reply with the server's
// ReplyBuilder in the client's protocol (RESP2 or RESP3). Commands that need
// no shard (PING, ECHO, HELLO, QUIT, INFO) are answered by the connection.
//
// Execute is thread-safe (it posts to the raft loop); the reply callback runs
// on the raft loop. Owned by the cluster server; outlives its connections.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "runtime/admin_commands.h"
#include "runtime/node_runtime.h"
#include "runtime/shard_router.h"

namespace dkv::runtime {

class ClusterCommands {
 public:
  // REQUIRES: runtime and router outlive this object.
  ClusterCommands(NodeRuntime* runtime, ShardRouter* router);

  // Admin commands (DKV.ADDREPLICA, ...) and DKV.STATUS go to `admin`.
  // REQUIRES: called before Execute; `admin` outlives this object.
  void SetAdmin(AdminService* admin) { admin_ = admin; }

  // The default user's password (`distkv-server --requirepass`); empty: none.
  // REQUIRES: set before any connection is accepted (read from connection
  // threads afterwards, never written again).
  void SetRequirePass(std::string password) { requirepass_ = std::move(password); }
  const std::string& requirepass() const { return requirepass_; }

  // True for the commands Execute handles (upper-case name).
  static bool IsShardCommand(const std::string& upper_name);

  // Runs `argv` (argv[0] upper-cased by the caller into `upper_name`) and
  // calls `done` with the complete reply bytes, on the raft loop. Arity and
  // option errors are replied without touching a shard.
  void Execute(std::string upper_name, std::vector<std::string> argv, int protocol,
               std::function<void(std::string reply)> done);

 private:
  void ExecuteOnLoop(const std::string& name, std::vector<std::string> argv, int protocol,
                     std::function<void(std::string)> done);
  // Splits `keys` (and `values` for puts) by shard and routes each part;
  // `merge` gets the replies in ascending shard order with, for each, the
  // positions in `keys` its entries came from.
  void Fanout(ShardOp::Kind kind, const std::vector<std::string>& keys,
              const std::vector<std::string>& values,
              std::function<void(std::vector<ShardReply>, std::vector<std::vector<size_t>>)> merge);
  void Status(int protocol, std::function<void(std::string)> done);
  // The read-modify-write commands (SET with options, SETNX, INCR, EXPIRE,
  // TTL, ...): parses argv like the standalone server (same errors) into one
  // node::EvalOp and routes it to the key's shard; false when `name` is not
  // one. `how` is the reply's rendering (cluster_commands.cc EvalReply).
  bool ExecuteEval(const std::string& name, const std::vector<std::string>& argv, int protocol,
                   std::function<void(std::string)>& done);
  void RouteEval(node::EvalOp op, int protocol, int how, std::function<void(std::string)> done);
  // SCAN cursor [MATCH p] [COUNT n] [TYPE t]: one page of one shard per call.
  void Scan(const std::vector<std::string>& argv, int protocol,
            std::function<void(std::string)> done);
  // Walks every shard's live keys in pages (shards in order), calling
  // `on_page` for each page; `done` gets "" or the first error's text.
  void ScanAll(std::function<void(std::vector<std::optional<std::string>>&)> on_page,
               std::function<void(std::string error)> done);

  // RANDOMKEY: a live key from a random point of the keyspace, or nil.
  void RandomKey(int protocol, std::function<void(std::string)> done);
  std::mt19937_64 rng_{std::random_device{}()};  // loop only

  // SCAN cursors this node issued (loop only): id -> where the next page
  // starts. The newest kMaxScanCursors are kept; an older or unknown one is
  // "ERR invalid cursor".
  struct ScanCursor {
    ShardId shard = 0;  // walked in ascending id order (router_->Shards())
    std::string after;  // the shard's next page starts after this key
  };
  std::map<uint64_t, ScanCursor> scan_cursors_;
  uint64_t next_scan_cursor_ = 0;

  NodeRuntime* const runtime_;
  ShardRouter* const router_;
  AdminService* admin_ = nullptr;
  std::string requirepass_;
};

// "-ERR command 'x' is not supported in cluster mode yet" (the RESP text
// after '-').
std::string UnsupportedCommandError(const std::string& name);

}  // namespace dkv::runtime

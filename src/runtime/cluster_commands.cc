#include "runtime/cluster_commands.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <map>
#include <memory>
#include <random>

#include "common/assert.h"
#include "node/limits.h"
#include "raft/types.h"
#include "server/command.h"
#include "server/command_util.h"
#include "server/reply.h"
#include "server/resp_parser.h"

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

// SCAN cursors kept per node (ClusterCommands::scan_cursors_): a client
// walking the keyspace needs one; ~100 bytes each plus its key.
constexpr size_t kMaxScanCursors = 10000;

std::string Lower(std::string_view s) { return server::ToLower(s); }

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses an expiry argument of `cmd` (lower-case name) in `unit_ms` (1000
// for seconds, 1 for ms) into op's expiry, with Redis's checks and errors:
// the value must be an integer, positive unless `allow_nonpositive` (the
// EXPIRE family, where a past time deletes), and neither its ms nor (for a
// relative one) now + it may overflow. A relative expiry stays relative: the
// shard adds the entry's commit time at apply (node::ExpiryMode).
bool ParseExpiry(std::string_view arg, int64_t unit_ms, bool absolute, bool allow_nonpositive,
                 const std::string& cmd, node::EvalOp* op, std::string* error) {
  int64_t v = 0;
  if (!server::ParseInt64Strict(arg, &v)) {
    *error = std::string(server::kErrNotInteger);
    return false;
  }
  const std::string invalid = "ERR invalid expire time in '" + cmd + "' command";
  if ((!allow_nonpositive && v <= 0) || v > INT64_MAX / unit_ms || v < INT64_MIN / unit_ms) {
    *error = invalid;
    return false;
  }
  v *= unit_ms;
  if (!absolute) {
    const int64_t now = NowMs();
    if ((v > 0 && now > INT64_MAX - v) || (v < 0 && now < INT64_MIN - v)) {
      *error = invalid;
      return false;
    }
  }
  op->expiry_mode = absolute ? node::ExpiryMode::kAbsoluteMs : node::ExpiryMode::kRelativeMs;
  op->expiry_ms = v;
  return true;
}

// EX PX EXAT PXAT: whether `opt` is one, and its unit and kind.
bool ExpiryOption(std::string_view opt, int64_t* unit_ms, bool* absolute) {
  using server::EqualsIgnoreCase;
  if (EqualsIgnoreCase(opt, "ex") || EqualsIgnoreCase(opt, "exat")) {
    *unit_ms = 1000;
  } else if (EqualsIgnoreCase(opt, "px") || EqualsIgnoreCase(opt, "pxat")) {
    *unit_ms = 1;
  } else {
    return false;
  }
  *absolute = opt.size() == 4;
  return true;
}

// SET's options from argv[3..] (Redis 7: NX XX GET KEEPTTL EX PX EXAT PXAT).
bool ParseSetOptions(const std::vector<std::string>& argv, node::EvalOp* op, std::string* error) {
  using server::EqualsIgnoreCase;
  bool expiry = false;
  for (size_t i = 3; i < argv.size(); i++) {
    const std::string& opt = argv[i];
    int64_t unit_ms = 0;
    bool absolute = false;
    if (EqualsIgnoreCase(opt, "nx") && !(op->flags & node::kSetXx)) {
      op->flags |= node::kSetNx;
    } else if (EqualsIgnoreCase(opt, "xx") && !(op->flags & node::kSetNx)) {
      op->flags |= node::kSetXx;
    } else if (EqualsIgnoreCase(opt, "get")) {
      op->flags |= node::kSetGet;
    } else if (EqualsIgnoreCase(opt, "keepttl") && !expiry) {
      op->flags |= node::kSetKeepTtl;
    } else if (ExpiryOption(opt, &unit_ms, &absolute) && !expiry &&
               !(op->flags & node::kSetKeepTtl) && i + 1 < argv.size()) {
      expiry = true;
      if (!ParseExpiry(argv[i + 1], unit_ms, absolute, false, "set", op, error)) return false;
      i++;
    } else {
      *error = std::string(server::kErrSyntax);
      return false;
    }
  }
  return true;
}

// GETEX's options from argv[2..]: one of EX PX EXAT PXAT <t>, PERSIST.
bool ParseGetExOptions(const std::vector<std::string>& argv, node::EvalOp* op, std::string* error) {
  for (size_t i = 2; i < argv.size(); i++) {
    const std::string& opt = argv[i];
    int64_t unit_ms = 0;
    bool absolute = false;
    const bool none = op->expiry_mode == node::ExpiryMode::kNone;
    if (server::EqualsIgnoreCase(opt, "persist") && none) {
      op->expiry_mode = node::ExpiryMode::kPersist;
    } else if (ExpiryOption(opt, &unit_ms, &absolute) && none && i + 1 < argv.size()) {
      if (!ParseExpiry(argv[i + 1], unit_ms, absolute, false, "getex", op, error)) return false;
      i++;
    } else {
      *error = std::string(server::kErrSyntax);
      return false;
    }
  }
  return true;
}

// How an eval's ShardReply becomes the client's reply.
enum class EvalReply {
  kAsIs,       // OK, integer, value or nil, error
  kSetNx,      // SETNX: OK -> 1, nil -> 0
  kTtlSeconds  // TTL: ms left -> seconds (rounded), -1/-2 as they are
};

std::string RenderEval(const ShardReply& r, int protocol, EvalReply how) {
  std::string out;
  server::ReplyBuilder b(&out, protocol);
  switch (r.kind) {
    case ShardReply::Kind::kError:
      b.Error(r.error);
      break;
    case ShardReply::Kind::kOk:
      if (how == EvalReply::kSetNx) {
        b.Integer(1);
      } else {
        b.Ok();
      }
      break;
    case ShardReply::Kind::kInteger:
      if (how == EvalReply::kTtlSeconds && r.integer >= 0) {
        b.Integer((r.integer + 500) / 1000);
      } else {
        b.Integer(r.integer);
      }
      break;
    case ShardReply::Kind::kValues:
      if (r.values.size() != 1) {
        b.Error("ERR malformed shard reply");
      } else if (how == EvalReply::kSetNx) {
        b.Integer(r.values[0] ? 1 : 0);
      } else if (r.values[0]) {
        b.Bulk(*r.values[0]);
      } else {
        b.Null();
      }
      break;
    default:
      b.Error("ERR malformed shard reply");
  }
  return out;
}

// The commands a node answers by a kEval on the key's shard leader, with
// their arity (Redis's: negative = at least).
struct EvalSpec {
  const char* name;
  int arity;
};
constexpr EvalSpec kEvalCommands[] = {
    {"SETNX", 3},       {"SETEX", 4},  {"PSETEX", 4},  {"GETSET", 3},   {"GETDEL", 2},
    {"GETEX", -2},      {"INCR", 2},   {"DECR", 2},    {"INCRBY", 3},   {"DECRBY", 3},
    {"INCRBYFLOAT", 3}, {"APPEND", 3}, {"EXPIRE", -3}, {"PEXPIRE", -3}, {"EXPIREAT", -3},
    {"PEXPIREAT", -3},  {"TTL", 2},    {"PTTL", 2},    {"PERSIST", 2},
};

const EvalSpec* FindEval(const std::string& name) {
  for (const EvalSpec& s : kEvalCommands) {
    if (name == s.name) return &s;
  }
  return nullptr;
}

// Reads of one key's value answered from a linearizable GET.
bool IsValueRead(const std::string& n) {
  return n == "STRLEN" || n == "GETRANGE" || n == "TYPE" || n == "SUBSTR";
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
  return n == "GET" || n == "SET" || n == "DEL" || n == "UNLINK" || n == "EXISTS" || n == "SCAN" ||
         n == "KEYS" || n == "DBSIZE" || n == "MGET" || n == "MSET" || n == "DKV.STATUS" ||
         n == "MSETNX" || n == "RENAME" || n == "RENAMENX" || n == "RANDOMKEY" ||
         FindEval(n) != nullptr || IsValueRead(n) || AdminService::IsAdminCommand(n);
}

namespace {

// One walk over every shard's live keys, one page of one shard in flight at a
// time (a large keyspace never holds the loop for long). Lives as long as a
// route's callback holds it.
struct ScanWalk : std::enable_shared_from_this<ScanWalk> {
  ShardRouter* router = nullptr;
  std::vector<ShardId> shards;
  size_t pos = 0;
  std::string after;
  std::function<void(std::vector<std::optional<std::string>>&)> on_page;
  std::function<void(std::string)> done;

  void Next() {
    if (pos >= shards.size()) return done("");
    ShardOp op;
    op.kind = ShardOp::Kind::kScan;
    op.shard = shards[pos];
    op.keys.push_back(after);
    op.limit = kMaxScanPage;
    router->Route(std::move(op),
                  [self = shared_from_this()](ShardReply r) { self->OnPage(std::move(r)); });
  }

  void OnPage(ShardReply r) {
    if (r.kind == ShardReply::Kind::kError) return done(r.error);
    if (r.kind != ShardReply::Kind::kValues || r.values.empty()) {
      return done("ERR malformed shard reply");
    }
    if (r.values[0]) {
      after = *r.values[0];
    } else {
      pos++;
      after.clear();
    }
    r.values.erase(r.values.begin());
    on_page(r.values);
    Next();
  }
};

}  // namespace

namespace {

// RANDOMKEY: a page of one key from a random point of a random shard (after
// random bytes, wrapping to the shard's start), then the next shard while
// none is found. Like Redis's, the choice is random but not uniform.
struct RandomKeyWalk : std::enable_shared_from_this<RandomKeyWalk> {
  ShardRouter* router = nullptr;
  std::vector<ShardId> shards;
  std::mt19937_64* rng = nullptr;  // the commands' (loop only)
  size_t pos = 0;
  size_t tried = 0;
  bool wrapped = false;
  std::string after;
  int protocol = 2;
  std::function<void(std::string)> done;

  std::string RandomPoint() {
    std::string p(8, '\0');
    for (char& c : p) c = static_cast<char>((*rng)() & 0xFF);
    return p;
  }

  void Next() {
    if (tried >= shards.size()) {
      std::string out;
      server::ReplyBuilder(&out, protocol).Null();
      return done(std::move(out));
    }
    ShardOp op;
    op.kind = ShardOp::Kind::kScan;
    op.shard = shards[pos];
    op.keys.push_back(after);
    op.limit = 1;
    router->Route(std::move(op),
                  [self = shared_from_this()](ShardReply r) { self->OnPage(std::move(r)); });
  }

  void OnPage(ShardReply r) {
    if (r.kind == ShardReply::Kind::kError) return done(ErrorReply(protocol, r.error));
    if (r.kind != ShardReply::Kind::kValues || r.values.empty()) {
      return done(ErrorReply(protocol, "ERR malformed shard reply"));
    }
    if (r.values.size() > 1 && r.values[1]) {
      std::string out;
      server::ReplyBuilder(&out, protocol).Bulk(*r.values[1]);
      return done(std::move(out));
    }
    if (r.values[0]) {
      after = *r.values[0];  // a page of dead versions only: go on
    } else if (!wrapped) {
      wrapped = true;
      after.clear();
    } else {
      tried++;
      pos = (pos + 1) % shards.size();
      wrapped = false;
      after = RandomPoint();
    }
    Next();
  }
};

}  // namespace

void ClusterCommands::RandomKey(int protocol, std::function<void(std::string)> done) {
  auto w = std::make_shared<RandomKeyWalk>();
  w->router = router_;
  w->shards = router_->Shards();
  w->rng = &rng_;
  w->protocol = protocol;
  w->done = std::move(done);
  if (!w->shards.empty()) {
    w->pos = static_cast<size_t>(rng_() % w->shards.size());
    w->after = w->RandomPoint();
  }
  w->Next();
}

void ClusterCommands::ScanAll(std::function<void(std::vector<std::optional<std::string>>&)> on_page,
                              std::function<void(std::string error)> done) {
  auto w = std::make_shared<ScanWalk>();
  w->router = router_;
  w->shards = router_->Shards();
  w->on_page = std::move(on_page);
  w->done = std::move(done);
  w->Next();
}

void ClusterCommands::Scan(const std::vector<std::string>& argv, int protocol,
                           std::function<void(std::string)> done) {
  uint64_t cursor = 0;
  {
    const std::string& c = argv[1];
    auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), cursor);
    if (c.empty() || ec != std::errc() || p != c.data() + c.size()) {
      return done(ErrorReply(protocol, "ERR invalid cursor"));
    }
  }
  std::string pattern;
  bool match_all = true;
  bool type_none = false;  // TYPE other than string: nothing matches
  int64_t count = 10;
  for (size_t i = 2; i < argv.size(); i += 2) {
    if (i + 1 >= argv.size()) return done(ErrorReply(protocol, std::string(server::kErrSyntax)));
    const std::string& opt = argv[i];
    const std::string& val = argv[i + 1];
    if (server::EqualsIgnoreCase(opt, "match")) {
      pattern = val;
      match_all = pattern == "*";
    } else if (server::EqualsIgnoreCase(opt, "count")) {
      if (!server::ParseInt64Strict(val, &count)) {
        return done(ErrorReply(protocol, std::string(server::kErrNotInteger)));
      }
      if (count < 1) return done(ErrorReply(protocol, std::string(server::kErrSyntax)));
    } else if (server::EqualsIgnoreCase(opt, "type")) {
      type_none = !server::EqualsIgnoreCase(val, "string");
    } else {
      return done(ErrorReply(protocol, std::string(server::kErrSyntax)));
    }
  }
  const std::vector<ShardId> shards = router_->Shards();
  ScanCursor at;
  if (cursor != 0) {
    auto it = scan_cursors_.find(cursor);
    if (it == scan_cursors_.end()) return done(ErrorReply(protocol, "ERR invalid cursor"));
    at = it->second;
  } else if (!shards.empty()) {
    at.shard = shards[0];
  }
  if (shards.empty()) {
    std::string out;
    server::ReplyBuilder b(&out, protocol);
    b.ArrayHeader(2);
    b.Bulk("0");
    b.ArrayHeader(0);
    return done(std::move(out));
  }
  ShardOp op;
  op.kind = ShardOp::Kind::kScan;
  op.shard = at.shard;
  op.keys.push_back(at.after);
  op.limit = static_cast<size_t>(std::min<int64_t>(count, static_cast<int64_t>(kMaxScanPage)));
  router_->Route(std::move(op), [this, at, shards, pattern, match_all, type_none, protocol,
                                 done = std::move(done)](ShardReply r) {
    if (r.kind == ShardReply::Kind::kError) return done(ErrorReply(protocol, r.error));
    if (r.kind != ShardReply::Kind::kValues || r.values.empty()) {
      return done(ErrorReply(protocol, "ERR malformed shard reply"));
    }
    ScanCursor next = at;
    bool more = true;
    if (r.values[0]) {
      next.after = *r.values[0];
    } else {
      // The next shard by id (shards are walked in ascending id order).
      auto it = std::upper_bound(shards.begin(), shards.end(), at.shard);
      more = it != shards.end();
      if (more) next.shard = *it;
      next.after.clear();
    }
    uint64_t id = 0;  // 0: the walk is over
    if (more) {
      // Ids are never reused; the oldest go first when the table is full.
      id = ++next_scan_cursor_;
      scan_cursors_[id] = std::move(next);
      while (scan_cursors_.size() > kMaxScanCursors) scan_cursors_.erase(scan_cursors_.begin());
    }
    std::vector<std::string> keys;
    for (size_t i = 1; i < r.values.size(); i++) {
      if (!r.values[i] || type_none) continue;
      if (match_all || server::GlobMatch(pattern, *r.values[i])) {
        keys.push_back(std::move(*r.values[i]));
      }
    }
    std::string out;
    server::ReplyBuilder b(&out, protocol);
    b.ArrayHeader(2);
    b.Bulk(std::to_string(id));
    b.ArrayHeader(static_cast<int64_t>(keys.size()));
    for (const std::string& k : keys) b.Bulk(k);
    done(std::move(out));
  });
}

void ClusterCommands::RouteEval(node::EvalOp op, int protocol, int how,
                                std::function<void(std::string)> done) {
  ShardOp s;
  s.kind = ShardOp::Kind::kEval;
  s.shard = router_->ShardFor(op.key);
  s.keys.push_back(op.key);
  s.eval = std::move(op);
  router_->Route(std::move(s), [protocol, how, done = std::move(done)](ShardReply r) {
    done(RenderEval(r, protocol, static_cast<EvalReply>(how)));
  });
}

bool ClusterCommands::ExecuteEval(const std::string& name, const std::vector<std::string>& argv,
                                  int protocol, std::function<void(std::string)>& done) {
  using node::EvalOpType;
  const EvalSpec* spec = FindEval(name);
  const bool is_set = name == "SET";
  if (spec == nullptr && !is_set) return false;
  const int argc = static_cast<int>(argv.size());
  if (spec != nullptr &&
      ((spec->arity > 0 && argc != spec->arity) || (spec->arity < 0 && argc < -spec->arity))) {
    done(ErrorReply(protocol, ArityError(name)));
    return true;
  }
  if (is_set && argc < 3) {
    done(ErrorReply(protocol, ArityError(name)));
    return true;
  }
  node::EvalOp op;
  op.key = argv[1];
  EvalReply how = EvalReply::kAsIs;
  std::string error;
  const std::string lower = Lower(name);
  if (is_set || name == "SETNX" || name == "GETSET") {
    op.type = EvalOpType::kSet;
    op.value = argv[2];
    if (is_set && !ParseSetOptions(argv, &op, &error)) {
      done(ErrorReply(protocol, error));
      return true;
    }
    if (name == "SETNX") {
      op.flags = node::kSetNx;
      how = EvalReply::kSetNx;
    }
    if (name == "GETSET") op.flags = node::kSetGet;
  } else if (name == "SETEX" || name == "PSETEX") {
    op.type = EvalOpType::kSet;
    op.value = argv[3];
    if (!ParseExpiry(argv[2], name == "SETEX" ? 1000 : 1, false, false, lower, &op, &error)) {
      done(ErrorReply(protocol, error));
      return true;
    }
  } else if (name == "GETDEL") {
    op.type = EvalOpType::kGetDel;
  } else if (name == "GETEX") {
    op.type = EvalOpType::kGetEx;
    if (!ParseGetExOptions(argv, &op, &error)) {
      done(ErrorReply(protocol, error));
      return true;
    }
  } else if (name == "INCR" || name == "DECR" || name == "INCRBY" || name == "DECRBY") {
    op.type = EvalOpType::kIncrBy;
    op.integer = name == "INCR" ? 1 : -1;
    if (argc == 3) {
      int64_t d = 0;
      if (!server::ParseInt64Strict(argv[2], &d)) {
        done(ErrorReply(protocol, std::string(server::kErrNotInteger)));
        return true;
      }
      if (name == "DECRBY") {
        if (d == INT64_MIN) {
          done(ErrorReply(protocol, "ERR decrement would overflow"));
          return true;
        }
        d = -d;
      }
      op.integer = d;
    }
  } else if (name == "INCRBYFLOAT") {
    long double incr = 0;
    if (!server::ParseLongDouble(argv[2], &incr)) {
      done(ErrorReply(protocol, std::string(server::kErrNotFloat)));
      return true;
    }
    op.type = EvalOpType::kIncrByFloat;
    op.value = argv[2];
  } else if (name == "APPEND") {
    op.type = EvalOpType::kAppend;
    op.value = argv[2];
  } else if (name == "TTL" || name == "PTTL") {
    op.type = EvalOpType::kTtl;
    if (name == "TTL") how = EvalReply::kTtlSeconds;
  } else if (name == "PERSIST") {
    op.type = EvalOpType::kPersist;
  } else {  // the EXPIRE family: options NX XX GT LT (Redis 7)
    op.type = EvalOpType::kExpire;
    for (int i = 3; i < argc; i++) {
      const std::string& o = argv[static_cast<size_t>(i)];
      if (server::EqualsIgnoreCase(o, "nx")) {
        op.flags |= node::kExpireNx;
      } else if (server::EqualsIgnoreCase(o, "xx")) {
        op.flags |= node::kExpireXx;
      } else if (server::EqualsIgnoreCase(o, "gt")) {
        op.flags |= node::kExpireGt;
      } else if (server::EqualsIgnoreCase(o, "lt")) {
        op.flags |= node::kExpireLt;
      } else {
        done(ErrorReply(protocol, "ERR Unsupported option " + o));
        return true;
      }
    }
    if ((op.flags & node::kExpireNx) &&
        (op.flags & (node::kExpireXx | node::kExpireGt | node::kExpireLt))) {
      done(ErrorReply(protocol,
                      "ERR NX and XX, GT or LT options at the same time are not compatible"));
      return true;
    }
    if ((op.flags & node::kExpireGt) && (op.flags & node::kExpireLt)) {
      done(ErrorReply(protocol, "ERR GT and LT options at the same time are not compatible"));
      return true;
    }
    const bool seconds = name == "EXPIRE" || name == "EXPIREAT";
    const bool absolute = name == "EXPIREAT" || name == "PEXPIREAT";
    if (!ParseExpiry(argv[2], seconds ? 1000 : 1, absolute, true, lower, &op, &error)) {
      done(ErrorReply(protocol, error));
      return true;
    }
  }
  if (op.key.size() > node::kMaxKeyBytes || op.value.size() > node::kMaxValueBytes) {
    done(ErrorReply(protocol, "ERR key or value too large for cluster mode"));
    return true;
  }
  RouteEval(std::move(op), protocol, static_cast<int>(how), std::move(done));
  return true;
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
  if ((name == "SET" && argc > 3) || FindEval(name) != nullptr) {
    // Read-modify-writes (and SET with options): evaluated on the shard.
    ExecuteEval(name, argv, protocol, done);
    return;
  }
  if (name == "MSETNX" || name == "RENAME" || name == "RENAMENX") {
    // Atomic over several keys: one kEval on their shard when they share
    // one; across shards it would need a distributed transaction.
    const bool msetnx = name == "MSETNX";
    if ((msetnx && (argc < 3 || argc % 2 != 1)) || (!msetnx && argc != 3)) {
      return done(ErrorReply(protocol, ArityError(name)));
    }
    node::EvalOp op;
    op.key = argv[1];
    const ShardId shard = router_->ShardFor(argv[1]);
    bool one_shard = true;
    if (msetnx) {
      std::vector<std::pair<std::string, std::string>> pairs;
      for (size_t i = 1; i + 1 < argc; i += 2) {
        one_shard = one_shard && router_->ShardFor(argv[i]) == shard;
        pairs.emplace_back(argv[i], argv[i + 1]);
      }
      if (pairs.size() > node::kMaxOpsPerCommand) {
        return done(ErrorReply(protocol, "ERR too many keys in one command for cluster mode (max " +
                                             std::to_string(node::kMaxOpsPerCommand) + ")"));
      }
      op.type = node::EvalOpType::kMSetNx;
      op.value = node::EncodeKeyValuePairs(pairs);
    } else {
      one_shard = router_->ShardFor(argv[2]) == shard;
      op.type = node::EvalOpType::kRename;
      op.value = argv[2];
      if (name == "RENAMENX") op.flags = node::kRenameNx;
    }
    if (!one_shard) {
      return done(ErrorReply(protocol, "CROSSSHARD " + Lower(name) +
                                           ": the keys live in different shards; cluster mode "
                                           "runs it only when all its keys share one shard"));
    }
    if (op.key.empty() || op.key.size() > node::kMaxKeyBytes ||
        op.value.size() > node::kMaxValueBytes || (!msetnx && op.value.empty())) {
      return done(ErrorReply(protocol, "ERR key or value size out of range for cluster mode"));
    }
    RouteEval(std::move(op), protocol, static_cast<int>(EvalReply::kAsIs), std::move(done));
    return;
  }
  if (name == "RANDOMKEY") {
    if (argc != 1) return done(ErrorReply(protocol, ArityError(name)));
    return RandomKey(protocol, std::move(done));
  }
  if (name == "SCAN") {
    if (argc < 2) return done(ErrorReply(protocol, ArityError(name)));
    return Scan(argv, protocol, std::move(done));
  }
  if (name == "KEYS" || name == "DBSIZE") {
    const bool keys = name == "KEYS";
    if (argc != (keys ? 2 : 1)) return done(ErrorReply(protocol, ArityError(name)));
    struct Acc {
      std::vector<std::string> keys;
      int64_t count = 0;
    };
    auto acc = std::make_shared<Acc>();
    const std::string pattern = keys ? argv[1] : "*";
    ScanAll(
        [acc, keys, pattern](std::vector<std::optional<std::string>>& page) {
          for (auto& k : page) {
            if (!k) continue;
            if (!keys) {
              acc->count++;
            } else if (pattern == "*" || server::GlobMatch(pattern, *k)) {
              acc->keys.push_back(std::move(*k));
            }
          }
        },
        [acc, keys, protocol, done](std::string error) {
          if (!error.empty()) return done(ErrorReply(protocol, error));
          std::string out;
          server::ReplyBuilder b(&out, protocol);
          if (!keys) {
            b.Integer(acc->count);
          } else {
            b.ArrayHeader(static_cast<int64_t>(acc->keys.size()));
            for (const std::string& k : acc->keys) b.Bulk(k);
          }
          done(std::move(out));
        });
    return;
  }
  if (IsValueRead(name)) {
    const bool range = name == "GETRANGE" || name == "SUBSTR";
    if (argc != (range ? 4 : 2)) return done(ErrorReply(protocol, ArityError(name)));
    int64_t start = 0, end = 0;
    if (range &&
        (!server::ParseInt64Strict(argv[2], &start) || !server::ParseInt64Strict(argv[3], &end))) {
      return done(ErrorReply(protocol, std::string(server::kErrNotInteger)));
    }
    Fanout(ShardOp::Kind::kGet, {argv[1]}, {},
           [protocol, name, start, end, first_error, done](std::vector<ShardReply> replies,
                                                           std::vector<std::vector<size_t>>) {
             if (const ShardReply* e = first_error(replies))
               return done(ErrorReply(protocol, e->error));
             DKV_ASSERT(replies.size() == 1 && replies[0].values.size() == 1);
             const std::optional<std::string>& v = replies[0].values[0];
             std::string out;
             server::ReplyBuilder b(&out, protocol);
             if (name == "TYPE") {
               b.Simple(v ? "string" : "none");
             } else if (name == "STRLEN") {
               b.Integer(v ? static_cast<int64_t>(v->size()) : 0);
             } else {
               // Redis's GETRANGE: negative offsets count from the end.
               const int64_t len = v ? static_cast<int64_t>(v->size()) : 0;
               int64_t s = start, e = end;
               if (!v || (s < 0 && e < 0 && s > e)) {
                 b.Bulk("");
               } else {
                 if (s < 0) s = len + s;
                 if (e < 0) e = len + e;
                 if (s < 0) s = 0;
                 if (e < 0) e = 0;
                 if (e >= len) e = len - 1;
                 if (len == 0 || s > e) {
                   b.Bulk("");
                 } else {
                   b.Bulk(std::string_view(*v).substr(static_cast<size_t>(s),
                                                      static_cast<size_t>(e - s + 1)));
                 }
               }
             }
             done(std::move(out));
           });
    return;
  }
  if (name == "SET" || name == "MSET") {
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
  if (name == "DEL" || name == "UNLINK") {  // UNLINK: DEL (nothing is freed lazily here)
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

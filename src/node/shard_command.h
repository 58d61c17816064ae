// ShardCommand: what a shard's Raft log entries carry — an atomic write of one
// or more keys at one HLC commit timestamp, or a GC of old versions — and its
// frozen byte encoding (docs/node.md):
//
//   version(1)=1 | type(1) | commit ts(12, Timestamp::Encode) | body
//   type kWrite(1): varint32 count | count x ( op(1) | lp key | [lp value if put] )
//   type kGc(2):    safe point ts(12)
//   type kEval(3):  op(1) | lp key | flags(1) | expiry mode(1) | expiry ms(8, fixed64)
//                   | integer(8, fixed64) | lp value          (since the Redis string and
//                   expiry commands in cluster mode; older entries never hold type 3)
//
// (lp = varint32 length + bytes). The decoder checks every byte and the named
// limits and returns Corruption on anything else, so a damaged or hostile
// entry can never crash a replica (fuzz/shard_command_fuzz.cc). Plain values;
// thread-safe to copy. Owned by the node layer.
//
// A kEval command is a read-modify-write of one key (INCR, SET NX/GET, EXPIRE,
// ...) that every replica evaluates at apply time against the key's current
// version, with the entry's commit timestamp as "now" (EvaluateEval below, a
// pure function): so all replicas write the same bytes and compute the same
// EvalResult, which travels back to the proposer in its Completion.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "time/hlc.h"

namespace dkv::node {

inline constexpr uint8_t kShardCommandVersion = 1;

// Frozen: stored in Raft logs.
enum class CommandType : uint8_t {
  kWrite = 1,  // put/delete ops, applied atomically at `ts`
  kGc = 2,     // one bounded step of a GC pass below `safe_point` (docs/node.md "GC")
  kEval = 3,   // a read-modify-write of one key, evaluated at apply time (`eval`)
};

// Frozen: stored in Raft logs (kEval commands). Redis's meaning for each.
enum class EvalOpType : uint8_t {
  kSet = 1,          // `value`; SetFlag bits; expiry kNone/kRelativeMs/kAbsoluteMs
  kIncrBy = 2,       // `integer` is the delta (INCR, DECR, INCRBY, DECRBY)
  kIncrByFloat = 3,  // `value` is the increment's text (parsed at apply time)
  kAppend = 4,       // `value` is appended
  kGetDel = 5,       // answers the value and deletes the key
  kGetEx = 6,        // answers the value; expiry kNone keeps the TTL, kPersist drops it
  kExpire = 7,       // ExpireFlag bits; expiry kRelativeMs/kAbsoluteMs (a past time deletes)
  kPersist = 8,      // drops the TTL; answers 1 if there was one
  kTtl = 9,          // writes nothing; answers the ms left, -1 (no TTL) or -2 (no key)
  kMSetNx = 10,      // `value` = EncodeKeyValuePairs, the first pair's key is `key`
  kRename = 11,      // `value` is the new name; flag kRenameNx (RENAMENX)
};
inline constexpr uint8_t kMaxEvalOpType = 11;

// Frozen: how an EvalOp's expiry_ms reads.
enum class ExpiryMode : uint8_t {
  kNone = 0,        // no expiry given
  kRelativeMs = 1,  // the entry's commit time (ms) + expiry_ms
  kAbsoluteMs = 2,  // expiry_ms since the Unix epoch
  kPersist = 3,     // GETEX PERSIST: remove the TTL
};

// Frozen: kSet flag bits.
inline constexpr uint8_t kSetNx = 1;       // only if the key is absent
inline constexpr uint8_t kSetXx = 2;       // only if the key exists
inline constexpr uint8_t kSetGet = 4;      // answer the old value
inline constexpr uint8_t kSetKeepTtl = 8;  // keep the key's TTL
// Frozen: kRename flag bit.
inline constexpr uint8_t kRenameNx = 1;  // only if the new name does not exist
// Frozen: kExpire flag bits (Redis 7's NX XX GT LT).
inline constexpr uint8_t kExpireNx = 1;
inline constexpr uint8_t kExpireXx = 2;
inline constexpr uint8_t kExpireGt = 4;
inline constexpr uint8_t kExpireLt = 8;

struct EvalOp {
  EvalOpType type = EvalOpType::kTtl;
  std::string key;
  uint8_t flags = 0;
  ExpiryMode expiry_mode = ExpiryMode::kNone;
  int64_t expiry_ms = 0;
  int64_t integer = 0;
  std::string value;
  friend bool operator==(const EvalOp&, const EvalOp&) = default;
};

// What an evaluated kEval answers (a RESP reply's shape). Not stored: it goes
// from the state machine to the proposer in memory (EncodeEvalResult is the
// Completion's `value`).
struct EvalResult {
  enum class Kind : uint8_t { kOk = 1, kNull = 2, kInteger = 3, kBulk = 4, kError = 5 };
  Kind kind = Kind::kOk;
  int64_t integer = 0;
  std::string text;  // kBulk: the value; kError: the whole error text ("ERR ...")
  friend bool operator==(const EvalResult&, const EvalResult&) = default;
};
std::string EncodeEvalResult(const EvalResult& r);
// Corruption unless `data` is exactly one encoded result.
Result<EvalResult> DecodeEvalResult(std::string_view data);

// kMSetNx's value: varint32 count (1..kMaxOpsPerCommand) | count x (lp key |
// lp value). Decode: false unless exactly that, with non-empty keys.
std::string EncodeKeyValuePairs(const std::vector<std::pair<std::string, std::string>>& pairs);
bool DecodeKeyValuePairs(std::string_view in,
                         std::vector<std::pair<std::string, std::string>>* pairs);

// The key's live version as an eval sees it (absent when expired at `now`).
struct EvalCurrent {
  std::string value;
  int64_t expire_at_ms = 0;  // 0: no TTL
};
// A write of another key than the op's (multi-key ops).
struct EvalKeyWrite {
  std::string key;
  bool tombstone = false;
  std::string value;
  int64_t expire_at_ms = 0;
  friend bool operator==(const EvalKeyWrite&, const EvalKeyWrite&) = default;
};
// What evaluating an EvalOp does: the answer, at most one write of its key,
// and (kMSetNx, kRename) writes of the other keys it names.
struct EvalOutcome {
  enum class Write { kNone, kPut, kDelete };
  EvalResult result;
  Write write = Write::kNone;
  std::string value;         // kPut
  int64_t expire_at_ms = 0;  // kPut: 0 = no TTL
  std::vector<EvalKeyWrite> more;
};
// The live version of another key, for multi-key ops (nullopt: none).
using EvalLookup = std::function<std::optional<EvalCurrent>(const std::string& key)>;
// Evaluates `op` against `current` (nullopt: no live version) at `now_ms`, the
// entry's commit time; `lookup` answers for the other keys a multi-key op
// names (it may be null for the others). Pure and deterministic given the
// lookups: every replica gets the same.
// REQUIRES: op passes ShardCommand::Validate.
EvalOutcome EvaluateEval(const EvalOp& op, const std::optional<EvalCurrent>& current,
                         int64_t now_ms, const EvalLookup& lookup = nullptr);

// Frozen: stored in Raft logs.
enum class OpType : uint8_t {
  kPut = 1,
  kDelete = 2,
};

struct WriteOp {
  OpType type = OpType::kPut;
  std::string key;
  std::string value;  // kPut only
  friend bool operator==(const WriteOp&, const WriteOp&) = default;
};

struct ShardCommand {
  CommandType type = CommandType::kWrite;
  // Commit timestamp, assigned by the leader when it proposes (Node::Propose).
  Timestamp ts;
  std::vector<WriteOp> ops;  // kWrite: 1..kMaxOpsPerCommand ops
  Timestamp safe_point;      // kGc
  EvalOp eval;               // kEval

  static ShardCommand Put(std::string key, std::string value);
  static ShardCommand Delete(std::string key);
  static ShardCommand Write(std::vector<WriteOp> ops);
  static ShardCommand Gc(Timestamp safe_point);
  static ShardCommand Eval(EvalOp op);

  // InvalidArgument when the command breaks a limit (no ops, too many ops, a
  // key or value too large, an empty key) or an eval op is malformed (unknown
  // op, flags, expiry mode, or fields the op does not use set).
  Status Validate() const;
  friend bool operator==(const ShardCommand&, const ShardCommand&) = default;
};

std::string EncodeShardCommand(const ShardCommand& cmd);
// Corruption (naming what is wrong) unless `data` is exactly one well-formed
// command within the limits.
Result<ShardCommand> DecodeShardCommand(std::string_view data);

}  // namespace dkv::node

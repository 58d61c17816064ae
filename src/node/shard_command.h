// ShardCommand: what a shard's Raft log entries carry — an atomic write of one
// or more keys at one HLC commit timestamp, or a GC of old versions — and its
// frozen byte encoding (docs/node.md):
//
//   version(1)=1 | type(1) | commit ts(12, Timestamp::Encode) | body
//   type kWrite(1): varint32 count | count x ( op(1) | lp key | [lp value if put] )
//   type kGc(2):    safe point ts(12)
//
// (lp = varint32 length + bytes). The decoder checks every byte and the named
// limits and returns Corruption on anything else, so a damaged or hostile
// entry can never crash a replica (fuzz/shard_command_fuzz.cc). Plain values;
// thread-safe to copy. Owned by the node layer.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "time/hlc.h"

namespace dkv::node {

inline constexpr uint8_t kShardCommandVersion = 1;

// Frozen: stored in Raft logs.
enum class CommandType : uint8_t {
  kWrite = 1,  // put/delete ops, applied atomically at `ts`
  kGc = 2,     // one bounded step of a GC pass below `safe_point` (docs/node.md "GC")
};

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

  static ShardCommand Put(std::string key, std::string value);
  static ShardCommand Delete(std::string key);
  static ShardCommand Write(std::vector<WriteOp> ops);
  static ShardCommand Gc(Timestamp safe_point);

  // InvalidArgument when the command breaks a limit (no ops, too many ops, a
  // key or value too large, an empty key).
  Status Validate() const;
  friend bool operator==(const ShardCommand&, const ShardCommand&) = default;
};

std::string EncodeShardCommand(const ShardCommand& cmd);
// Corruption (naming what is wrong) unless `data` is exactly one well-formed
// command within the limits.
Result<ShardCommand> DecodeShardCommand(std::string_view data);

}  // namespace dkv::node

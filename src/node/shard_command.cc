#include "node/shard_command.h"

#include "common/coding.h"
#include "node/limits.h"

namespace dkv::node {

namespace {
Status Bad(std::string_view what) { return Status::Corruption("shard command", what); }

Status CheckOp(const WriteOp& op) {
  if (op.type != OpType::kPut && op.type != OpType::kDelete) {
    return Status::InvalidArgument("shard command", "unknown op");
  }
  if (op.key.empty()) return Status::InvalidArgument("shard command", "empty key");
  if (op.key.size() > kMaxKeyBytes)
    return Status::InvalidArgument("shard command", "key too large");
  if (op.value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("shard command", "value too large");
  }
  if (op.type == OpType::kDelete && !op.value.empty()) {
    return Status::InvalidArgument("shard command", "delete with a value");
  }
  return Status::OK();
}

bool GetTimestamp(std::string_view* in, Timestamp* ts) {
  if (in->size() < Timestamp::kEncodedSize) return false;
  Result<Timestamp> r = Timestamp::Decode(in->substr(0, Timestamp::kEncodedSize));
  if (!r.ok()) return false;
  *ts = *r;
  in->remove_prefix(Timestamp::kEncodedSize);
  return true;
}
}  // namespace

ShardCommand ShardCommand::Put(std::string key, std::string value) {
  return Write({WriteOp{OpType::kPut, std::move(key), std::move(value)}});
}

ShardCommand ShardCommand::Delete(std::string key) {
  return Write({WriteOp{OpType::kDelete, std::move(key), {}}});
}

ShardCommand ShardCommand::Write(std::vector<WriteOp> ops) {
  ShardCommand c;
  c.type = CommandType::kWrite;
  c.ops = std::move(ops);
  return c;
}

ShardCommand ShardCommand::Gc(Timestamp safe_point) {
  ShardCommand c;
  c.type = CommandType::kGc;
  c.safe_point = safe_point;
  return c;
}

Status ShardCommand::Validate() const {
  if (type == CommandType::kGc) {
    if (!ops.empty()) return Status::InvalidArgument("shard command", "gc with ops");
    return Status::OK();
  }
  if (type != CommandType::kWrite) return Status::InvalidArgument("shard command", "unknown type");
  if (ops.empty()) return Status::InvalidArgument("shard command", "no ops");
  if (ops.size() > kMaxOpsPerCommand)
    return Status::InvalidArgument("shard command", "too many ops");
  for (const WriteOp& op : ops) DKV_RETURN_IF_ERROR(CheckOp(op));
  return Status::OK();
}

std::string EncodeShardCommand(const ShardCommand& cmd) {
  std::string out;
  out.push_back(static_cast<char>(kShardCommandVersion));
  out.push_back(static_cast<char>(cmd.type));
  cmd.ts.EncodeTo(&out);
  if (cmd.type == CommandType::kGc) {
    cmd.safe_point.EncodeTo(&out);
    return out;
  }
  PutVarint32(&out, static_cast<uint32_t>(cmd.ops.size()));
  for (const WriteOp& op : cmd.ops) {
    out.push_back(static_cast<char>(op.type));
    PutLengthPrefixed(&out, op.key);
    if (op.type == OpType::kPut) PutLengthPrefixed(&out, op.value);
  }
  return out;
}

Result<ShardCommand> DecodeShardCommand(std::string_view in) {
  if (in.size() < 2) return Bad("too short");
  if (static_cast<uint8_t>(in[0]) != kShardCommandVersion) return Bad("unknown version");
  ShardCommand cmd;
  const uint8_t type = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  if (!GetTimestamp(&in, &cmd.ts)) return Bad("bad timestamp");
  if (type == static_cast<uint8_t>(CommandType::kGc)) {
    cmd.type = CommandType::kGc;
    if (!GetTimestamp(&in, &cmd.safe_point)) return Bad("bad safe point");
  } else if (type == static_cast<uint8_t>(CommandType::kWrite)) {
    cmd.type = CommandType::kWrite;
    uint32_t count;
    if (!GetVarint32(&in, &count)) return Bad("bad op count");
    if (count == 0 || count > kMaxOpsPerCommand) return Bad("op count out of range");
    if (count > in.size() / 2) return Bad("op count beyond the bytes");  // an op takes >= 2 bytes
    cmd.ops.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      if (in.empty()) return Bad("truncated op");
      WriteOp op;
      const uint8_t op_type = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (op_type != static_cast<uint8_t>(OpType::kPut) &&
          op_type != static_cast<uint8_t>(OpType::kDelete)) {
        return Bad("unknown op");
      }
      op.type = static_cast<OpType>(op_type);
      std::string_view key, value;
      if (!GetLengthPrefixed(&in, &key)) return Bad("bad key");
      if (op.type == OpType::kPut && !GetLengthPrefixed(&in, &value)) return Bad("bad value");
      op.key.assign(key);
      op.value.assign(value);
      if (!CheckOp(op).ok()) return Bad("op beyond limits");
      cmd.ops.push_back(std::move(op));
    }
  } else {
    return Bad("unknown type");
  }
  if (!in.empty()) return Bad("trailing bytes");
  return cmd;
}

}  // namespace dkv::node

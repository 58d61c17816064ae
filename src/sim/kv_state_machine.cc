#include "sim/kv_state_machine.h"

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"

namespace dkv::sim {

namespace {
// Frozen within a simulated run only (never persisted outside the process),
// but versioned anyway so a malformed entry is caught rather than misread.
constexpr char kCommandTag = 'K';
constexpr char kSnapshotTag = 'S';
}  // namespace

std::string EncodeCommand(const KvCommand& cmd) {
  std::string out;
  out.push_back(kCommandTag);
  out.push_back(static_cast<char>(cmd.kind));
  PutVarint64(&out, cmd.client);
  PutVarint64(&out, cmd.request);
  PutLengthPrefixed(&out, cmd.key);
  PutLengthPrefixed(&out, cmd.value);
  out.push_back(cmd.expected.has_value() ? 1 : 0);
  if (cmd.expected.has_value()) PutLengthPrefixed(&out, *cmd.expected);
  return out;
}

Result<KvCommand> DecodeCommand(std::string_view data) {
  KvCommand cmd;
  if (data.size() < 2 || data[0] != kCommandTag || static_cast<uint8_t>(data[1]) > 2) {
    return Status::Corruption("kv command", "bad tag or kind");
  }
  cmd.kind = static_cast<check::OpKind>(data[1]);
  data.remove_prefix(2);
  std::string_view key, value;
  if (!GetVarint64(&data, &cmd.client) || !GetVarint64(&data, &cmd.request) ||
      !GetLengthPrefixed(&data, &key) || !GetLengthPrefixed(&data, &value) || data.empty()) {
    return Status::Corruption("kv command", "truncated");
  }
  cmd.key = std::string(key);
  cmd.value = std::string(value);
  const bool has_expected = data[0] != 0;
  data.remove_prefix(1);
  if (has_expected) {
    std::string_view expected;
    if (!GetLengthPrefixed(&data, &expected)) return Status::Corruption("kv command", "truncated");
    cmd.expected = std::string(expected);
  }
  if (!data.empty()) return Status::Corruption("kv command", "trailing bytes");
  return cmd;
}

KvResult KvStateMachine::Apply(const KvCommand& cmd) {
  KvResult result;
  uint64_t& last = sessions_[cmd.client];
  if (cmd.request <= last) return result;  // duplicate or overtaken by a newer request
  last = cmd.request;
  result.applied = true;
  auto it = data_.find(cmd.key);
  switch (cmd.kind) {
    case check::OpKind::kGet:
      if (it != data_.end()) result.value = it->second;
      break;
    case check::OpKind::kPut:
      data_[cmd.key] = cmd.value;
      break;
    case check::OpKind::kCas: {
      std::optional<std::string> current;
      if (it != data_.end()) current = it->second;
      result.cas_ok = current == cmd.expected;
      if (result.cas_ok) data_[cmd.key] = cmd.value;
      break;
    }
    case check::OpKind::kIncr:  // the simulator's clients issue none (DecodeCommand refuses it)
      DKV_ASSERT(false && "INCR in the simulator's state machine");
      break;
  }
  return result;
}

std::optional<std::string> KvStateMachine::Read(const std::string& key) const {
  auto it = data_.find(key);
  if (it == data_.end()) return std::nullopt;
  return it->second;
}

std::string KvStateMachine::EncodeSnapshot() const {
  std::string out(1, kSnapshotTag);
  PutVarint64(&out, data_.size());
  for (const auto& [k, v] : data_) {
    PutLengthPrefixed(&out, k);
    PutLengthPrefixed(&out, v);
  }
  PutVarint64(&out, sessions_.size());
  for (const auto& [c, r] : sessions_) {
    PutVarint64(&out, c);
    PutVarint64(&out, r);
  }
  return out;
}

Status KvStateMachine::RestoreSnapshot(std::string_view image) {
  Clear();
  if (image.empty()) return Status::OK();  // a snapshot taken before any command
  if (image[0] != kSnapshotTag) return Status::Corruption("kv snapshot", "bad tag");
  image.remove_prefix(1);
  uint64_t n;
  if (!GetVarint64(&image, &n)) return Status::Corruption("kv snapshot", "truncated count");
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view k, v;
    if (!GetLengthPrefixed(&image, &k) || !GetLengthPrefixed(&image, &v)) {
      return Status::Corruption("kv snapshot", "truncated pair");
    }
    data_.emplace(std::string(k), std::string(v));
  }
  if (!GetVarint64(&image, &n)) return Status::Corruption("kv snapshot", "truncated sessions");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t c, r;
    if (!GetVarint64(&image, &c) || !GetVarint64(&image, &r)) {
      return Status::Corruption("kv snapshot", "truncated session");
    }
    sessions_[c] = r;
  }
  if (!image.empty()) return Status::Corruption("kv snapshot", "trailing bytes");
  return Status::OK();
}

uint64_t KvStateMachine::Fingerprint() const { return Hash64(EncodeSnapshot()); }

}  // namespace dkv::sim

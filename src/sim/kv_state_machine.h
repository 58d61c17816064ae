// KvStateMachine: the tiny replicated map each simulated node applies entries to.
//
// Commands (get, put, cas) are encoded into Raft entry data with EncodeCommand.
// Each carries the client id and a per-client request id that only grows; the
// machine remembers the last request applied per client (a session, Raft
// thesis §6.3) and skips an older or repeated one, so a proposal duplicated by
// the network or retried through another node takes effect at most once.
// The whole machine (map + sessions) encodes to a snapshot image. Owned by one
// simulated node; not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "check/history.h"
#include "common/status.h"

namespace dkv::sim {

struct KvCommand {
  check::OpKind kind = check::OpKind::kGet;
  uint64_t client = 0;
  uint64_t request = 0;
  std::string key;
  std::string value;                    // put / cas
  std::optional<std::string> expected;  // cas
};

struct KvResult {
  bool applied = false;              // false: a duplicate or stale request, skipped
  std::optional<std::string> value;  // get: the value read
  bool cas_ok = false;
};

std::string EncodeCommand(const KvCommand& cmd);
// Corruption if `data` is not a command.
Result<KvCommand> DecodeCommand(std::string_view data);

class KvStateMachine {
 public:
  // Applies one command (see the session rule above).
  KvResult Apply(const KvCommand& cmd);
  // Reads without going through the log (ReadIndex reads).
  std::optional<std::string> Read(const std::string& key) const;

  std::string EncodeSnapshot() const;
  // Replaces the whole state. Corruption on a malformed image.
  Status RestoreSnapshot(std::string_view image);
  void Clear() {
    data_.clear();
    sessions_.clear();
  }

  const std::map<std::string, std::string>& data() const { return data_; }
  // A fingerprint of map + sessions, for comparing replicas.
  uint64_t Fingerprint() const;

 private:
  std::map<std::string, std::string> data_;
  std::map<uint64_t, uint64_t> sessions_;  // client -> last request applied
};

}  // namespace dkv::sim

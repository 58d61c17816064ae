// Fuzzes the decoders of bytes a node reads from its Raft log and from peers'
// snapshots: DecodeShardCommand and DecodeSnapshotFiles must return a value
// or Corruption, never crash, and a decoded command must survive a round trip
// (varints need not be minimal, so the bytes themselves may differ). A
// decoded kEval is also evaluated (against no key and against the input's
// bytes as the value, as every replica would), and the MVCC value and eval
// result decoders get the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "node/shard_command.h"
#include "node/shard_state_machine.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto cmd = dkv::node::DecodeShardCommand(in);
  if (cmd.ok()) {
    auto again = dkv::node::DecodeShardCommand(dkv::node::EncodeShardCommand(*cmd));
    if (!again.ok() || !(*again == *cmd)) std::abort();
    if (!cmd->Validate().ok()) std::abort();
    if (cmd->type == dkv::node::CommandType::kEval) {
      const int64_t now_ms = 1700000000000;
      dkv::node::EvalLookup none = [](const std::string&) {
        return std::optional<dkv::node::EvalCurrent>();
      };
      dkv::node::EvalLookup some = [&](const std::string& k) {
        return std::optional<dkv::node::EvalCurrent>(dkv::node::EvalCurrent{k, 0});
      };
      (void)dkv::node::EvaluateEval(cmd->eval, std::nullopt, now_ms, none);
      (void)dkv::node::EvaluateEval(cmd->eval, dkv::node::EvalCurrent{std::string(in), 0}, now_ms,
                                    some);
      (void)dkv::node::EvaluateEval(cmd->eval, dkv::node::EvalCurrent{cmd->eval.key, now_ms + 1},
                                    now_ms, none);
    }
  }
  auto result = dkv::node::DecodeEvalResult(in);
  if (result.ok() &&
      !(*dkv::node::DecodeEvalResult(dkv::node::EncodeEvalResult(*result)) == *result)) {
    std::abort();
  }
  bool tombstone;
  int64_t expire_at_ms;
  std::string_view value;
  if (dkv::node::DecodeMvccValue(in, &tombstone, &expire_at_ms, &value).ok() && expire_at_ms < 0) {
    std::abort();
  }
  auto files = dkv::node::DecodeSnapshotFiles(in);
  (void)files.ok();
  return 0;
}

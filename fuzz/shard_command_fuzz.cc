// Fuzzes the decoders of bytes a node reads from its Raft log and from peers'
// snapshots: DecodeShardCommand and DecodeSnapshotFiles must return a value
// or Corruption, never crash, and a decoded command must survive a round trip
// (varints need not be minimal, so the bytes themselves may differ).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
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
  }
  auto files = dkv::node::DecodeSnapshotFiles(in);
  (void)files.ok();
  return 0;
}

// Fuzzes the streaming decoder of shard snapshots (node/shard_snapshot.h), the
// bytes a follower takes from a leader: the first input byte picks a chunk
// size, the rest is the stream. The SnapshotReceiver must never crash, must
// accept exactly what DecodeSnapshotFiles accepts, and what it accepts must
// be the decoded files, written to (an in-memory) disk.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "node/shard_snapshot.h"
#include "storage/fault_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 64;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  dkv::storage::FaultInjectionEnv env;
  dkv::node::SnapshotReceiver rx(&env);
  if (!rx.Begin("/in").ok()) std::abort();
  dkv::Status st;
  for (std::string_view rest = in; st.ok() && !rest.empty();) {
    const size_t n = rest.size() < chunk ? rest.size() : chunk;
    st = rx.Append(rest.substr(0, n));
    rest.remove_prefix(n);
  }
  if (st.ok()) st = rx.Finish();
  auto decoded = dkv::node::DecodeSnapshotFiles(in);
  if (st.ok() != decoded.ok()) std::abort();
  if (st.ok()) {
    if (rx.names().size() != decoded->size()) std::abort();
    for (const auto& f : *decoded) {
      auto got = dkv::storage::ReadFileToString(&env, "/in/" + f.name);
      if (!got.ok() || *got != f.contents) std::abort();
    }
  }
  rx.Abort();
  return 0;
}

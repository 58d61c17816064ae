// Shared pieces of dkv_kvload (see kvload_main.cc): the options, the key
// format, and the result every back end fills — the socket driver (RESP,
// etcd JSON gateway) and the etcd gRPC driver (etcd_grpc.cc) — so all are
// reported the same way. Plain values; a back end fills its own result.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace dkv::kvload {

struct Options {
  std::string protocol = "resp";
  std::vector<std::string> endpoints;  // host:port
  int clients = 16;
  int threads = 1;
  int conns = 0;  // gRPC: channels shared by the clients; 0 = one per client
  double duration_s = 10;
  int64_t ops = 0;  // > 0: stop after this many successful operations
  std::string op = "put";
  int key_size = 16;
  int value_size = 100;
  int64_t keys = 100'000;
  uint64_t seed = 1;
  std::string json_path;
  std::string label;
  int kill_pid = 0;
  int attempt_timeout_ms = 200;  // failover: one write attempt's limit
  // failover against DistKV: write only keys of this shard (the one whose
  // leader is killed), found through the ring of this cluster config; -1:
  // any key. Without it a write to a shard the dead node did not lead would
  // succeed at once and measure nothing.
  int failover_shard = -1;
  std::string cluster_config;
};

struct LoadResult {
  int64_t ops = 0;
  int64_t errors = 0;
  int64_t reconnects = 0;
  std::vector<uint32_t> latencies_us;  // one per successful operation
  void Merge(const LoadResult& other) {
    ops += other.ops;
    errors += other.errors;
    reconnects += other.reconnects;
    latencies_us.insert(latencies_us.end(), other.latencies_us.begin(), other.latencies_us.end());
  }
};

// Key i, zero-padded to key_size bytes ("k000000000012345").
std::string MakeKey(int64_t i, int key_size);

// One write attempt for failover measurement: put `key` through endpoint
// number `endpoint`, giving up after timeout_ms. True on success.
using WriteAttempt = std::function<bool(size_t endpoint, const std::string& key, int timeout_ms)>;

#ifdef DKV_KVLOAD_HAVE_GRPC
// etcd over gRPC (etcd's KV service, etcd_kv.proto): the closed loop of
// kvload_main.cc with async stubs. Stops after o.duration_s or o.ops.
LoadResult RunEtcdGrpcLoad(const Options& o);
// A WriteAttempt over long-lived gRPC channels, one per endpoint.
WriteAttempt NewEtcdGrpcWriteAttempt(const Options& o);
#endif

}  // namespace dkv::kvload

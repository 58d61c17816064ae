// The etcd gRPC back end of dkv_kvload: the same closed loop as the socket
// driver (each client one request in flight, uniform random keys, fill mode),
// through etcd's own KV service with gRPC's async C++ stubs. By default every
// client has its own channel and TCP connection (a local subchannel pool), as
// every RESP client has its own socket; --conns shares fewer channels the way
// etcd's Go client multiplexes one connection. One CompletionQueue per thread.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <thread>

#include "etcd_kv.grpc.pb.h"
#include "kvload/kvload.h"

namespace dkv::kvload {

namespace {

using Clock = std::chrono::steady_clock;

// An RPC slower than this is counted as an error rather than waited for:
// far above etcd's own 5 s request timeout plus an election.
constexpr int kRpcDeadlineMs = 10'000;
// How often an idle completion-queue wait looks at the stop flag.
constexpr auto kPollInterval = std::chrono::milliseconds(20);
// A client whose RPC failed waits this long before the next one, so a dead
// endpoint costs a few attempts per second rather than a spinning core.
constexpr auto kRetryDelay = std::chrono::milliseconds(50);

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  // Without this, channels to one target share a subchannel: one connection.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

struct Call {
  int client = 0;
  grpc::ClientContext ctx;
  etcdserverpb::PutResponse put_response;
  etcdserverpb::RangeResponse range_response;
  grpc::Status status;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::PutResponse>> put;
  std::unique_ptr<grpc::ClientAsyncResponseReader<etcdserverpb::RangeResponse>> range;
  Clock::time_point sent;
};

struct ClientState {
  etcdserverpb::KV::Stub* stub = nullptr;
  std::mt19937_64 rng;
  int64_t fill_next = -1;
};

}  // namespace

LoadResult RunEtcdGrpcLoad(const Options& o) {
  const int conns = o.conns == 0 ? o.clients : std::min(o.conns, o.clients);
  std::vector<std::unique_ptr<etcdserverpb::KV::Stub>> stubs;
  for (int i = 0; i < conns; i++) {
    stubs.push_back(etcdserverpb::KV::NewStub(
        NewChannel(o.endpoints[static_cast<size_t>(i) % o.endpoints.size()])));
  }
  const bool fill = o.op == "fill";
  const bool put = o.op != "get";
  const std::string value(o.value_size, 'v');
  std::atomic<bool> stop{false};
  std::atomic<int64_t> done{0};
  const int threads = std::min(o.threads, o.clients);
  std::vector<LoadResult> results(threads);

  auto worker = [&](int t) {
    LoadResult& r = results[t];
    grpc::CompletionQueue cq;
    std::vector<ClientState> clients;
    std::vector<int> ids;
    for (int c = t; c < o.clients; c += threads) {
      ClientState s;
      s.stub = stubs[static_cast<size_t>(c) % stubs.size()].get();
      s.rng.seed(o.seed * 1000003 + c);
      s.fill_next = c;
      clients.push_back(std::move(s));
      ids.push_back(c);
    }
    int64_t outstanding = 0;
    auto issue = [&](int local) {
      if (stop.load(std::memory_order_relaxed)) return;
      ClientState& s = clients[local];
      int64_t key_index;
      if (fill) {
        if (s.fill_next >= o.keys) return;
        key_index = s.fill_next;
      } else {
        key_index = static_cast<int64_t>(s.rng() % static_cast<uint64_t>(o.keys));
      }
      auto* call = new Call;
      call->client = local;
      call->ctx.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::milliseconds(kRpcDeadlineMs));
      call->sent = Clock::now();
      if (put) {
        etcdserverpb::PutRequest req;
        req.set_key(MakeKey(key_index, o.key_size));
        req.set_value(value);
        call->put = s.stub->PrepareAsyncPut(&call->ctx, req, &cq);
        call->put->StartCall();
        call->put->Finish(&call->put_response, &call->status, call);
      } else {
        etcdserverpb::RangeRequest req;
        req.set_key(MakeKey(key_index, o.key_size));  // serializable=false: linearizable
        call->range = s.stub->PrepareAsyncRange(&call->ctx, req, &cq);
        call->range->StartCall();
        call->range->Finish(&call->range_response, &call->status, call);
      }
      outstanding++;
    };
    for (size_t i = 0; i < clients.size(); i++) issue(static_cast<int>(i));
    // Clients waiting out kRetryDelay after an error: (when, client).
    std::vector<std::pair<Clock::time_point, int>> delayed;
    while (outstanding > 0 || (!delayed.empty() && !stop.load(std::memory_order_relaxed))) {
      const auto now = Clock::now();
      for (size_t i = 0; i < delayed.size();) {
        if (delayed[i].first <= now) {
          issue(delayed[i].second);
          delayed[i] = delayed.back();
          delayed.pop_back();
        } else {
          i++;
        }
      }
      void* tag = nullptr;
      bool ok = false;
      auto next = cq.AsyncNext(&tag, &ok, std::chrono::system_clock::now() + kPollInterval);
      if (next == grpc::CompletionQueue::TIMEOUT) continue;
      if (next == grpc::CompletionQueue::SHUTDOWN) break;
      std::unique_ptr<Call> call(static_cast<Call*>(tag));
      outstanding--;
      if (ok && call->status.ok()) {
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - call->sent)
                      .count();
        r.ops++;
        r.latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
        if (fill) clients[call->client].fill_next += o.clients;
        int64_t total = done.fetch_add(1, std::memory_order_relaxed) + 1;
        if (o.ops > 0 && total >= o.ops) stop.store(true);
      } else {
        r.errors++;
        delayed.push_back({Clock::now() + kRetryDelay, call->client});
        continue;
      }
      issue(call->client);
    }
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) delete static_cast<Call*>(tag);
  };

  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; t++) workers.emplace_back(worker, t);
  const auto limit = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.ops > 0 ? 600.0 : o.duration_s));
  while (Clock::now() < limit && !stop.load() && (o.ops <= 0 || done.load() < o.ops)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop.store(true);
  for (auto& w : workers) w.join();
  LoadResult all;
  for (auto& r : results) all.Merge(r);
  return all;
}

WriteAttempt NewEtcdGrpcWriteAttempt(const Options& o) {
  // Long-lived channels, as a real client keeps them: shared by the attempts.
  auto stubs = std::make_shared<std::vector<std::unique_ptr<etcdserverpb::KV::Stub>>>();
  for (const auto& e : o.endpoints) stubs->push_back(etcdserverpb::KV::NewStub(NewChannel(e)));
  const std::string value(o.value_size, 'v');
  return [stubs, value](size_t endpoint, const std::string& key, int timeout_ms) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    return (*stubs)[endpoint]->Put(&ctx, req, &resp).ok();
  };
}

}  // namespace dkv::kvload

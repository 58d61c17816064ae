// Throughput of AsioTransport over loopback (a benchmark, not a test): node 1
// sends batches of MsgApps to node 2 as fast as Send accepts them, and the run
// reports batches, messages and entry bytes per second delivered to node 2's core.
// Each batch holds `shards` messages of `entries` 100-byte entries, as a node
// replicating many shards would send. Run it directly:
//   transport_throughput_bench [seconds=3] [shards=16] [entries=8]
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "transport/asio_transport.h"

namespace {

using namespace dkv;
using namespace std::chrono_literals;

uint16_t FreePort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 3;
  const int shards = argc > 2 ? std::atoi(argv[2]) : 16;
  const int entries = argc > 3 ? std::atoi(argv[3]) : 8;

  asio::io_context core_io;
  auto work = asio::make_work_guard(core_io);
  std::thread core([&] { core_io.run(); });

  const uint16_t p1 = FreePort(), p2 = FreePort();
  auto options = [&](node::NodeId self) {
    transport::AsioTransportOptions o;
    o.self = self;
    o.cluster_id = "bench";
    o.listen_port = self == 1 ? p1 : p2;
    o.peers = {{1, "127.0.0.1", p1}, {2, "127.0.0.1", p2}};
    return o;
  };
  std::atomic<uint64_t> batches{0}, messages{0};
  auto a = transport::AsioTransport::Start(options(1), &core_io, [](node::MessageBatch) {});
  auto b = transport::AsioTransport::Start(options(2), &core_io, [&](node::MessageBatch batch) {
    batches.fetch_add(1, std::memory_order_relaxed);
    messages.fetch_add(batch.messages.size(), std::memory_order_relaxed);
  });
  if (!a.ok() || !b.ok()) {
    std::fprintf(stderr, "start failed\n");
    return 1;
  }
  while (!(*a)->Stats()[0].connected) std::this_thread::sleep_for(1ms);

  node::MessageBatch batch;
  batch.from = 1;
  batch.to = 2;
  const raft::Payload value(std::string(100, 'v'));
  for (int s = 0; s < shards; s++) {
    node::Envelope env;
    env.shard = s;
    env.msg.type = raft::MessageType::kMsgApp;
    env.msg.from = 1;
    env.msg.to = 2;
    env.msg.term = 5;
    env.msg.commit = 1000;
    for (int e = 0; e < entries; e++) {
      env.msg.entries.push_back(raft::Entry{5, 1000ull + e, raft::EntryType::kNormal, value});
    }
    batch.messages.push_back(env);
  }

  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  uint64_t offered = 0;
  while (std::chrono::steady_clock::now() < end) {
    // Keep the queue short: a real core sends at most what Raft's window allows.
    if ((*a)->Stats()[0].queued_batches < 64) {
      (*a)->Send(batch);
      offered++;
    } else {
      std::this_thread::yield();
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::this_thread::sleep_for(200ms);
  const uint64_t got = batches.load();
  const transport::PeerStats s = (*a)->Stats()[0];
  std::printf(
      "{\"shards_per_batch\": %d, \"entries_per_msg\": %d, \"offered\": %llu, \"delivered\": %llu, "
      "\"dropped\": %llu, \"batches_per_s\": %.0f, \"msgs_per_s\": %.0f, \"entry_mb_per_s\": %.1f, "
      "\"wire_mb_per_s\": %.1f}\n",
      shards, entries, static_cast<unsigned long long>(offered),
      static_cast<unsigned long long>(got), static_cast<unsigned long long>(s.batches_dropped),
      got / secs, messages.load() / secs, got * shards * entries * 100.0 / secs / 1e6,
      s.bytes_sent / secs / 1e6);

  a->reset();
  b->reset();
  work.reset();
  core_io.stop();
  core.join();
  return 0;
}

#include "transport/asio_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/random.h"
#include "common/thread_annotations.h"
#include "transport/codec.h"
#include "transport/frame.h"

namespace dkv::transport {
namespace {

using node::MessageBatch;
using node::NodeId;
using namespace std::chrono_literals;

// Every wait in these tests is for a condition, with this deadline.
constexpr auto kDeadline = 5s;

bool WaitFor(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + kDeadline;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A port nothing listens on right now (bind port 0, read it back, close).
uint16_t FreePort() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  return a.local_endpoint().port();
}

MessageBatch Batch(NodeId from, NodeId to, uint64_t seq) {
  MessageBatch b;
  b.from = from;
  b.to = to;
  node::Envelope env;
  env.shard = 100 + seq;
  env.msg.type = raft::MessageType::kMsgApp;
  env.msg.from = from;
  env.msg.to = to;
  env.msg.term = 3;
  env.msg.index = seq;
  env.msg.entries.push_back(raft::Entry{3, seq + 1, raft::EntryType::kNormal,
                                        raft::Payload("value-" + std::to_string(seq))});
  b.messages.push_back(env);
  return b;
}

// What one node received, filled on the core thread.
struct Inbox {
  Mutex mu;
  std::vector<MessageBatch> batches GUARDED_BY(mu);

  size_t size() {
    MutexLock lock(&mu);
    return batches.size();
  }
  std::vector<MessageBatch> Take() {
    MutexLock lock(&mu);
    return std::move(batches);
  }
};

// A raw TCP client, to speak garbage (POSIX sockets so reads can time out).
class RawClient {
 public:
  explicit RawClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{};
    tv.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(kDeadline).count();
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Write(std::string_view bytes) {
    // A write may fail once the server has closed; the test checks the close.
    (void)!::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  }
  // Reads until the server closes the connection; false if it is still open at
  // the deadline.
  bool ReadUntilClosed() {
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string HelloBytes(NodeId id, const std::string& cluster) {
  rpc::Frame f;
  f.mutable_hello()->set_node_id(id);
  f.mutable_hello()->set_cluster_id(cluster);
  f.mutable_hello()->set_protocol_version(kProtocolVersion);
  return *EncodeFrame(f);
}

std::string HeaderClaiming(uint32_t length) {
  std::string s;
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(length >> shift));
  s.append(4, '\0');
  return s;
}

class AsioTransportTest : public ::testing::Test {
 protected:
  AsioTransportTest()
      : work_(asio::make_work_guard(core_io_)),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(2000)),
        logger_(std::make_shared<spdlog::logger>("transport-test", sink_)) {
    logger_->set_level(spdlog::level::debug);
    core_thread_ = std::thread([this] { core_io_.run(); });
  }

  ~AsioTransportTest() override {
    transports_.clear();
    work_.reset();
    core_io_.stop();
    core_thread_.join();
  }

  // Node `id` of a cluster whose nodes listen on ports_ (assigned on first use).
  AsioTransportOptions Options(NodeId id, const std::vector<NodeId>& nodes,
                               const std::string& cluster = "test-cluster") {
    AsioTransportOptions o;
    o.self = id;
    o.cluster_id = cluster;
    for (NodeId n : nodes) {
      if (ports_.count(n) == 0) ports_[n] = FreePort();
      o.peers.push_back({n, "127.0.0.1", ports_[n]});
    }
    o.listen_port = ports_.at(id);
    o.backoff_min = 5ms;
    o.backoff_max = 100ms;
    o.dial_timeout = 1s;
    o.handshake_timeout = 1s;
    o.jitter_seed = 42 + id;
    o.logger = logger_;
    return o;
  }

  AsioTransport* StartNode(AsioTransportOptions o) {
    const NodeId id = o.self;
    inboxes_.try_emplace(id, std::make_unique<Inbox>());
    Inbox* inbox = inboxes_.at(id).get();
    Result<std::unique_ptr<AsioTransport>> t =
        AsioTransport::Start(std::move(o), &core_io_, [inbox](MessageBatch b) {
          MutexLock lock(&inbox->mu);
          inbox->batches.push_back(std::move(b));
        });
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return nullptr;
    transports_[id] = std::move(*t);
    return transports_[id].get();
  }

  void StopNode(NodeId id) { transports_.erase(id); }

  static PeerStats StatsFor(const AsioTransport* t, NodeId peer) {
    for (const PeerStats& s : t->Stats()) {
      if (s.peer == peer) return s;
    }
    ADD_FAILURE() << "no stats for peer " << peer;
    return {};
  }

  static bool Connected(const AsioTransport* t, NodeId peer) { return StatsFor(t, peer).connected; }

  bool LogContains(const std::string& text) {
    for (const std::string& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }
  std::string Log() {
    std::string all;
    for (const std::string& line : sink_->last_formatted()) all += line;
    return all;
  }

  Inbox& inbox(NodeId id) { return *inboxes_.at(id); }

  asio::io_context core_io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread core_thread_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::map<NodeId, uint16_t> ports_;
  std::map<NodeId, std::unique_ptr<Inbox>> inboxes_;  // outlive the transports
  std::map<NodeId, std::unique_ptr<AsioTransport>> transports_;
};

TEST_F(AsioTransportTest, TwoTransportsExchangeBatchesInOrderBothWays) {
  AsioTransport* a = StartNode(Options(1, {1, 2}));
  AsioTransport* b = StartNode(Options(2, {1, 2}));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2) && Connected(b, 1); })) << Log();

  constexpr uint64_t kBatches = 200;
  for (uint64_t i = 0; i < kBatches; i++) {
    a->Send(Batch(1, 2, i));
    b->Send(Batch(2, 1, i));
  }
  ASSERT_TRUE(WaitFor([&] { return inbox(1).size() == kBatches && inbox(2).size() == kBatches; }))
      << inbox(1).size() << " " << inbox(2).size() << "\n"
      << Log();
  for (NodeId to : {1, 2}) {
    const NodeId from = 3 - to;
    std::vector<MessageBatch> got = inbox(to).Take();
    for (uint64_t i = 0; i < kBatches; i++) {
      ASSERT_EQ(got[i].from, from);
      ASSERT_EQ(got[i].to, to);
      ASSERT_EQ(got[i].messages.size(), 1u);
      const raft::Message& m = got[i].messages[0].msg;
      EXPECT_EQ(got[i].messages[0].shard, 100 + i);
      EXPECT_EQ(m.index, i);  // TCP on one connection keeps the order
      ASSERT_EQ(m.entries.size(), 1u);
      EXPECT_EQ(m.entries[0].data.ToString(), "value-" + std::to_string(i));
    }
  }
  ASSERT_TRUE(WaitFor([&] { return StatsFor(a, 2).batches_sent == kBatches; }));
  const PeerStats s = StatsFor(a, 2);
  EXPECT_EQ(s.batches_dropped, 0u);
  EXPECT_EQ(s.queued_batches, 0u);
  EXPECT_GT(s.bytes_sent, kBatches * kFrameHeaderBytes);
  EXPECT_EQ(StatsFor(b, 1).batches_received, kBatches);
  EXPECT_EQ(a->inbound_rejected(), 0u);
}

TEST_F(AsioTransportTest, ThreeTransportsExchangeAllToAll) {
  const std::vector<NodeId> nodes = {1, 2, 3};
  for (NodeId id : nodes) ASSERT_NE(StartNode(Options(id, nodes)), nullptr);
  ASSERT_TRUE(WaitFor([&] {
    for (NodeId x : nodes) {
      for (NodeId y : nodes) {
        if (x != y && !Connected(transports_[x].get(), y)) return false;
      }
    }
    return true;
  })) << Log();
  for (uint64_t i = 0; i < 50; i++) {
    for (NodeId x : nodes) {
      for (NodeId y : nodes) {
        if (x != y) transports_[x]->Send(Batch(x, y, i));
      }
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    return inbox(1).size() == 100 && inbox(2).size() == 100 && inbox(3).size() == 100;
  })) << Log();
  for (NodeId to : nodes) {
    std::map<NodeId, uint64_t> next;  // per sender, batches arrive in order
    for (const MessageBatch& b : inbox(to).Take()) {
      EXPECT_EQ(b.to, to);
      EXPECT_EQ(b.messages.at(0).msg.index, next[b.from]++);
    }
    EXPECT_EQ(next.size(), 2u);
  }
}

TEST_F(AsioTransportTest, ListenPortZeroBindsAFreePortAndReportsIt) {
  AsioTransportOptions o = Options(1, {1, 2});
  o.listen_port = 0;
  AsioTransport* t = StartNode(std::move(o));
  ASSERT_NE(t, nullptr);
  EXPECT_NE(t->listen_port(), 0);
  RawClient client(t->listen_port());
  EXPECT_TRUE(client.connected());
}

TEST_F(AsioTransportTest, BadOptionsAreInvalidArgument) {
  AsioTransportOptions o = Options(1, {1, 2});
  o.peers.push_back(o.peers.back());
  EXPECT_TRUE(AsioTransport::Start(o, &core_io_, [](MessageBatch) {}).status().IsInvalidArgument());
  o = Options(1, {1, 2});
  o.backoff_min = 10s;
  EXPECT_TRUE(AsioTransport::Start(o, &core_io_, [](MessageBatch) {}).status().IsInvalidArgument());
  o = Options(1, {1, 2});
  o.listen_host = "not-an-ip";
  EXPECT_TRUE(AsioTransport::Start(o, &core_io_, [](MessageBatch) {}).status().IsInvalidArgument());
}

TEST_F(AsioTransportTest, PortInUseIsIOError) {
  AsioTransport* a = StartNode(Options(1, {1, 2}));
  ASSERT_NE(a, nullptr);
  AsioTransportOptions o = Options(2, {1, 2});
  o.listen_port = a->listen_port();
  Result<std::unique_ptr<AsioTransport>> t =
      AsioTransport::Start(o, &core_io_, [](MessageBatch) {});
  EXPECT_TRUE(t.status().IsIOError()) << t.status().ToString();
}

TEST_F(AsioTransportTest, RestartedPeerIsReconnected) {
  AsioTransport* a = StartNode(Options(1, {1, 2}));
  ASSERT_NE(StartNode(Options(2, {1, 2})), nullptr);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2); })) << Log();
  a->Send(Batch(1, 2, 0));
  ASSERT_TRUE(WaitFor([&] { return inbox(2).size() == 1; }));

  StopNode(2);
  ASSERT_TRUE(WaitFor([&] { return !a->Reachable(2); })) << Log();
  EXPECT_GE(StatsFor(a, 2).dials_failed, 1u);
  EXPECT_TRUE(LogContains("unreachable"));

  AsioTransport* b = StartNode(Options(2, {1, 2}));
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2) && Connected(b, 1); })) << Log();
  EXPECT_EQ(StatsFor(a, 2).reconnects, 1u);
  a->Send(Batch(1, 2, 1));
  b->Send(Batch(2, 1, 7));
  ASSERT_TRUE(WaitFor([&] { return inbox(2).size() == 2 && inbox(1).size() == 1; })) << Log();
  EXPECT_EQ(inbox(2).Take().back().messages.at(0).msg.index, 1u);
  EXPECT_EQ(inbox(1).Take().back().messages.at(0).msg.index, 7u);
}

TEST_F(AsioTransportTest, DownPeerMakesSendDropWithBoundedQueueNotBlock) {
  AsioTransportOptions o = Options(1, {1, 2});  // nobody listens on node 2's port
  o.max_queued_batches = 16;
  o.max_queued_bytes = 1 << 20;
  AsioTransport* a = StartNode(std::move(o));
  ASSERT_NE(a, nullptr);
  constexpr uint64_t kBatches = 20000;
  for (uint64_t i = 0; i < kBatches; i++) {
    a->Send(Batch(1, 2, i));
    const PeerStats s = StatsFor(a, 2);
    ASSERT_LE(s.queued_batches, 16u);
    ASSERT_LE(s.queued_bytes, size_t{1} << 20);
  }
  const PeerStats s = StatsFor(a, 2);
  EXPECT_EQ(s.batches_dropped + s.queued_batches, kBatches);
  EXPECT_EQ(s.batches_sent, 0u);
  ASSERT_TRUE(WaitFor([&] { return StatsFor(a, 2).dials_failed >= 3; })) << Log();
  // Failures after the first are not warnings, so a long outage does not flood the log.
  EXPECT_TRUE(LogContains("redialing with backoff"));
  EXPECT_TRUE(LogContains("still unreachable"));
}

TEST_F(AsioTransportTest, ByteBoundDropsLargeBatches) {
  AsioTransportOptions o = Options(1, {1, 2});  // node 2 down: queue never drains while dialing
  o.max_queued_bytes = 64 << 10;
  AsioTransport* a = StartNode(std::move(o));
  ASSERT_NE(a, nullptr);
  MessageBatch big = Batch(1, 2, 0);
  big.messages[0].msg.entries[0].data = raft::Payload(std::string(40 << 10, 'x'));
  for (int i = 0; i < 100; i++) {
    a->Send(big);
    ASSERT_LE(StatsFor(a, 2).queued_bytes, size_t{64} << 10);
  }
  EXPECT_GE(StatsFor(a, 2).batches_dropped, 99u);
}

TEST_F(AsioTransportTest, GarbageSpeakingClientsAreDisconnectedAndOthersKeepWorking) {
  // Node 3 is in the peer list but never runs: the raw client below poses as it.
  AsioTransport* a = StartNode(Options(1, {1, 2, 3}));
  AsioTransport* b = StartNode(Options(2, {1, 2, 3}));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2) && Connected(b, 1); })) << Log();

  const uint64_t seed = 5150;
  Rng rng(seed);
  {
    RawClient client(a->listen_port());
    ASSERT_TRUE(client.connected());
    std::string junk(1000, '\0');
    for (char& c : junk) c = static_cast<char>(rng.Uniform(256));
    client.Write(junk);
    EXPECT_TRUE(client.ReadUntilClosed()) << "seed " << seed;
  }
  {
    RawClient client(a->listen_port());
    client.Write(HeaderClaiming(0xffffffff));
    EXPECT_TRUE(client.ReadUntilClosed());
    ASSERT_TRUE(WaitFor([&] { return LogContains("length 4294967295 over the limit 4096"); }))
        << Log();
  }
  {
    // A good Hello, then a frame over the post-handshake limit.
    RawClient client(a->listen_port());
    client.Write(HelloBytes(3, "test-cluster") + HeaderClaiming(kMaxFrameBytes + 1));
    EXPECT_TRUE(client.ReadUntilClosed());
    ASSERT_TRUE(WaitFor([&] { return LogContains("over the limit 67108864"); })) << Log();
  }
  {
    // A good Hello, then a batch that claims to come from another node.
    RawClient client(a->listen_port());
    rpc::Frame f;
    f.mutable_raft_batch()->set_from(2);
    f.mutable_raft_batch()->set_to(1);
    client.Write(HelloBytes(3, "test-cluster") + *EncodeFrame(f));
    EXPECT_TRUE(client.ReadUntilClosed());
    ASSERT_TRUE(WaitFor([&] { return LogContains("on node 3's connection"); })) << Log();
  }
  EXPECT_GE(a->inbound_rejected(), 4u);
  EXPECT_TRUE(inbox(1).Take().empty());

  // The real peers never noticed.
  a->Send(Batch(1, 2, 1));
  b->Send(Batch(2, 1, 2));
  ASSERT_TRUE(WaitFor([&] { return inbox(1).size() == 1 && inbox(2).size() == 1; })) << Log();
  EXPECT_EQ(StatsFor(a, 2).reconnects, 0u);
  EXPECT_EQ(StatsFor(b, 1).reconnects, 0u);
}

// A fake node 2 that completes the handshake and then never reads.
class DeafServer {
 public:
  explicit DeafServer(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
             ::listen(fd_, 16) == 0;
    thread_ = std::thread([this] {
      conn_ = ::accept(fd_, nullptr, nullptr);
      if (conn_ < 0) return;
      char buf[256];
      (void)!::recv(conn_, buf, sizeof(buf), 0);  // the dialer's Hello
      const std::string hello = HelloBytes(2, "test-cluster");
      (void)!::send(conn_, hello.data(), hello.size(), MSG_NOSIGNAL);
    });
  }
  ~DeafServer() {
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept() if no one came
    thread_.join();
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  bool bound() const { return bound_; }

 private:
  int fd_ = -1;
  int conn_ = -1;
  bool bound_ = false;
  std::thread thread_;
};

TEST_F(AsioTransportTest, PeerThatStopsReadingCausesDropsThenAStallTimeout) {
  AsioTransportOptions o = Options(1, {1, 2});
  o.max_queued_bytes = 1 << 20;
  o.write_stall_timeout = 300ms;
  DeafServer deaf(ports_.at(2));
  ASSERT_TRUE(deaf.bound());
  AsioTransport* a = StartNode(std::move(o));
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2); })) << Log();

  MessageBatch big = Batch(1, 2, 0);
  big.messages[0].msg.entries[0].data = raft::Payload(std::string(64 << 10, 'x'));
  // 128 MiB offered: far more than the socket buffers and the queue hold.
  for (int i = 0; i < 2048; i++) {
    a->Send(big);
    ASSERT_LE(StatsFor(a, 2).queued_bytes, size_t{1} << 20);
  }
  EXPECT_GT(StatsFor(a, 2).batches_dropped, 0u);
  ASSERT_TRUE(WaitFor([&] { return StatsFor(a, 2).dials_failed >= 1; })) << Log();
  EXPECT_TRUE(LogContains("no progress within the write stall timeout")) << Log();
  EXPECT_LT(StatsFor(a, 2).batches_sent, 2048u);
}

TEST_F(AsioTransportTest, NewerConnectionFromTheSameNodeReplacesTheOlder) {
  AsioTransport* a = StartNode(Options(1, {1, 2, 3}));
  ASSERT_NE(a, nullptr);
  RawClient first(a->listen_port());
  first.Write(HelloBytes(3, "test-cluster"));
  ASSERT_TRUE(WaitFor([&] { return LogContains("node 3 connected from"); })) << Log();
  RawClient second(a->listen_port());
  second.Write(HelloBytes(3, "test-cluster"));
  EXPECT_TRUE(first.ReadUntilClosed());
  ASSERT_TRUE(WaitFor([&] { return LogContains("replaced by a newer one"); })) << Log();
  EXPECT_EQ(a->inbound_rejected(), 0u);

  // The newer one carries batches.
  rpc::Frame f;
  ToProto(Batch(3, 1, 5), f.mutable_raft_batch());
  second.Write(*EncodeFrame(f));
  ASSERT_TRUE(WaitFor([&] { return inbox(1).size() == 1; })) << Log();
  EXPECT_EQ(StatsFor(a, 3).batches_received, 1u);
}

TEST_F(AsioTransportTest, StalledCoreMakesReceivedBatchesDropNotQueue) {
  AsioTransportOptions oa = Options(1, {1, 2});
  oa.max_undelivered_bytes = 64 << 10;
  AsioTransport* a = StartNode(std::move(oa));
  AsioTransport* b = StartNode(Options(2, {1, 2}));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Connected(b, 1); })) << Log();

  // Block the core thread until the transport has had to drop.
  std::atomic<bool> release{false};
  asio::post(core_io_, [&] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
  });
  MessageBatch big = Batch(2, 1, 0);
  big.messages[0].msg.entries[0].data = raft::Payload(std::string(16 << 10, 'x'));
  for (int i = 0; i < 64; i++) b->Send(big);
  ASSERT_TRUE(WaitFor([&] {
    const PeerStats s = StatsFor(a, 2);
    return s.batches_received + s.received_dropped == 64;
  })) << Log();
  release.store(true);
  const PeerStats s = StatsFor(a, 2);
  EXPECT_LE(s.batches_received, 4u);  // 64 KiB of ~16 KiB batches
  EXPECT_GE(s.received_dropped, 60u);
  ASSERT_TRUE(WaitFor([&] { return inbox(1).size() == s.batches_received; }));
}

TEST_F(AsioTransportTest, ForwardFramesTravelBothWaysToTheFrameHandler) {
  struct Forwarded {
    Mutex mu;
    std::vector<std::pair<NodeId, rpc::Frame>> frames GUARDED_BY(mu);
    size_t size() {
      MutexLock lock(&mu);
      return frames.size();
    }
  };
  std::map<NodeId, Forwarded> got;
  std::vector<AsioTransport*> t;
  for (NodeId id : {1, 2}) {
    AsioTransportOptions o = Options(id, {1, 2});
    Forwarded* f = &got[id];
    o.on_frame = [f](NodeId from, rpc::Frame frame) {
      MutexLock lock(&f->mu);
      f->frames.emplace_back(from, std::move(frame));
    };
    t.push_back(StartNode(std::move(o)));
    ASSERT_NE(t.back(), nullptr);
  }
  ASSERT_TRUE(WaitFor([&] { return Connected(t[0], 2) && Connected(t[1], 1); })) << Log();

  rpc::Frame request;
  request.mutable_forward_request()->set_request_id(77);
  request.mutable_forward_request()->set_shard(3);
  request.mutable_forward_request()->add_args("SET");
  request.mutable_forward_request()->add_args("k");
  request.mutable_forward_request()->add_args(std::string("v\0v", 3));
  ASSERT_TRUE(t[0]->SendFrame(2, request).ok());
  ASSERT_TRUE(WaitFor([&] { return got[2].size() == 1; })) << Log();
  {
    MutexLock lock(&got[2].mu);
    EXPECT_EQ(got[2].frames[0].first, 1u);
    const rpc::ForwardRequest& r = got[2].frames[0].second.forward_request();
    EXPECT_EQ(r.request_id(), 77u);
    ASSERT_EQ(r.args_size(), 3);
    EXPECT_EQ(r.args(2), std::string("v\0v", 3));
  }
  rpc::Frame response;
  response.mutable_forward_response()->set_request_id(77);
  response.mutable_forward_response()->set_reply("+OK\r\n");
  ASSERT_TRUE(t[1]->SendFrame(1, response).ok());
  ASSERT_TRUE(WaitFor([&] { return got[1].size() == 1; })) << Log();
  {
    MutexLock lock(&got[1].mu);
    EXPECT_EQ(got[1].frames[0].second.forward_response().reply(), "+OK\r\n");
  }
  EXPECT_TRUE(t[0]->SendFrame(2, rpc::Frame()).IsInvalidArgument());
  EXPECT_TRUE(t[0]->SendFrame(9, request).IsInvalidArgument());
  EXPECT_EQ(inbox(1).size() + inbox(2).size(), 0u);
}

TEST_F(AsioTransportTest, SendFrameToADownPeerIsUnavailable) {
  AsioTransportOptions o = Options(1, {1, 2});  // nobody listens on node 2's port
  o.backoff_min = 10s;  // stays down for the rest of the test after the first failure
  o.backoff_max = 10s;
  AsioTransport* a = StartNode(std::move(o));
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(WaitFor([&] { return !a->Reachable(2); })) << Log();
  rpc::Frame request;
  request.mutable_forward_request()->set_request_id(1);
  Status s = a->SendFrame(2, request);
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_EQ(s.ToString(), "Unavailable: transport send: node 2 is down");
}

TEST_F(AsioTransportTest, ForwardFrameWithoutAHandlerClosesTheConnection) {
  AsioTransport* a = StartNode(Options(1, {1, 3}));
  ASSERT_NE(a, nullptr);
  RawClient client(a->listen_port());
  rpc::Frame request;
  request.mutable_forward_request()->set_request_id(1);
  client.Write(HelloBytes(3, "test-cluster") + *EncodeFrame(request));
  EXPECT_TRUE(client.ReadUntilClosed());
  ASSERT_TRUE(WaitFor([&] { return LogContains("unexpected frame kind 3"); })) << Log();
}

TEST_F(AsioTransportTest, UnknownNodeIdIsRefused) {
  AsioTransport* a = StartNode(Options(1, {1, 2}));
  ASSERT_NE(a, nullptr);
  RawClient client(a->listen_port());
  client.Write(HelloBytes(99, "test-cluster"));
  EXPECT_TRUE(client.ReadUntilClosed());
  ASSERT_TRUE(WaitFor([&] { return LogContains("unknown node id 99 (not a peer)"); })) << Log();
  EXPECT_EQ(a->inbound_rejected(), 1u);
}

TEST_F(AsioTransportTest, DialerUnknownToTheAcceptorNeverCountsAsConnected) {
  AsioTransport* a = StartNode(Options(1, {1, 2}));  // does not know node 3
  ASSERT_NE(a, nullptr);
  ports_[3] = FreePort();
  AsioTransport* c = StartNode(Options(3, {1, 3}));
  ASSERT_NE(c, nullptr);
  for (uint64_t i = 0; i < 50; i++) c->Send(Batch(3, 1, i));
  ASSERT_TRUE(WaitFor([&] { return StatsFor(c, 1).dials_failed >= 3; })) << Log();
  EXPECT_TRUE(LogContains("closed by the peer before its Hello")) << Log();
  EXPECT_TRUE(LogContains("unknown node id 3 (not a peer)")) << Log();
  const PeerStats s = StatsFor(c, 1);
  EXPECT_EQ(s.reconnects, 0u);  // never connected, so never reconnected
  EXPECT_EQ(s.batches_sent, 0u);
  EXPECT_FALSE(LogContains("transport 3: connected to node 1"));
}

TEST_F(AsioTransportTest, SilentClientIsClosedAfterTheHandshakeTimeout) {
  AsioTransportOptions o = Options(1, {1, 2});
  o.handshake_timeout = 50ms;
  AsioTransport* a = StartNode(std::move(o));
  ASSERT_NE(a, nullptr);
  RawClient client(a->listen_port());
  EXPECT_TRUE(client.ReadUntilClosed());  // closed without a Hello
  ASSERT_TRUE(WaitFor([&] { return LogContains("no Hello within the handshake timeout"); }))
      << Log();
}

TEST_F(AsioTransportTest, WrongClusterIdIsRefusedBothWays) {
  AsioTransport* a = StartNode(Options(1, {1, 3}));
  AsioTransport* c = StartNode(Options(3, {1, 3}, "other-cluster"));
  ASSERT_TRUE(a && c);
  ASSERT_TRUE(WaitFor([&] {
    return LogContains("wrong cluster id 'other-cluster' (this node is in 'test-cluster')") &&
           LogContains("wrong cluster id 'test-cluster' (this node is in 'other-cluster')") &&
           StatsFor(a, 3).dials_failed >= 1 && StatsFor(c, 1).dials_failed >= 1;
  })) << Log();
  for (uint64_t i = 0; i < 100; i++) c->Send(Batch(3, 1, i));
  EXPECT_FALSE(Connected(c, 1));
  EXPECT_FALSE(Connected(a, 3));
  EXPECT_EQ(StatsFor(a, 3).batches_received, 0u);
  EXPECT_EQ(StatsFor(c, 1).batches_sent, 0u);
  EXPECT_GE(a->inbound_rejected(), 1u);
}

// run_on_core_io: each node's transport runs on its own core loop (one
// io_context, one thread, as NodeRuntime's raft loop), with no network thread.
// A node is stopped as NodeRuntime stops: the loop stops, then the transport
// is destroyed.
class CoreIoTransportTest : public ::testing::Test {
 protected:
  struct CoreNode {
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::thread thread;
    std::unique_ptr<AsioTransport> transport;
    Inbox inbox;
    std::atomic<uint64_t> sent_on_loop{0};
  };

  ~CoreIoTransportTest() override {
    for (auto& [id, n] : nodes_) Stop(n.get());
  }

  AsioTransportOptions Options(NodeId id, const std::vector<NodeId>& ids) {
    AsioTransportOptions o;
    o.self = id;
    o.cluster_id = "core-io";
    for (NodeId n : ids) {
      if (ports_.count(n) == 0) ports_[n] = FreePort();
      o.peers.push_back({n, "127.0.0.1", ports_[n]});
    }
    o.listen_port = ports_.at(id);
    o.backoff_min = 5ms;
    o.backoff_max = 100ms;
    o.run_on_core_io = true;
    return o;
  }

  // Starts node `id`; `run` false leaves its loop not running (never run).
  CoreNode* StartNode(NodeId id, const std::vector<NodeId>& ids, bool run = true) {
    auto n = std::make_unique<CoreNode>();
    CoreNode* raw = n.get();
    Result<std::unique_ptr<AsioTransport>> t =
        AsioTransport::Start(Options(id, ids), &raw->io, [raw](MessageBatch b) {
          MutexLock lock(&raw->inbox.mu);
          raw->inbox.batches.push_back(std::move(b));
        });
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return nullptr;
    raw->transport = std::move(*t);
    if (run) raw->thread = std::thread([raw] { raw->io.run(); });
    nodes_[id] = std::move(n);
    return raw;
  }

  static void Stop(CoreNode* n) {
    if (n->thread.joinable()) {
      asio::post(n->io, [n] { n->io.stop(); });
      n->thread.join();
    }
    n->transport.reset();  // the loop no longer runs
  }

  // Sends from the node's own loop, as the raft loop does.
  static void SendOnLoop(CoreNode* n, MessageBatch b) {
    asio::post(n->io, [n, b = std::move(b)]() mutable {
      n->transport->Send(std::move(b));
      n->sent_on_loop++;
    });
  }

  static bool Connected(CoreNode* n, NodeId peer) {
    for (const PeerStats& s : n->transport->Stats()) {
      if (s.peer == peer) return s.connected;
    }
    return false;
  }

  std::map<NodeId, uint16_t> ports_;
  std::map<NodeId, std::unique_ptr<CoreNode>> nodes_;
};

TEST_F(CoreIoTransportTest, BatchesFlowInOrderFromTheLoopAndFromOtherThreads) {
  CoreNode* a = StartNode(1, {1, 2});
  CoreNode* b = StartNode(2, {1, 2});
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2) && Connected(b, 1); }));
  // Node 1 sends from its loop (written at once, no network thread); node 2
  // from this thread (posted to its loop). Both keep their order.
  constexpr uint64_t kBatches = 300;
  for (uint64_t i = 0; i < kBatches; i++) {
    SendOnLoop(a, Batch(1, 2, i));
    b->transport->Send(Batch(2, 1, i));
  }
  ASSERT_TRUE(WaitFor([&] { return a->inbox.size() == kBatches && b->inbox.size() == kBatches; }))
      << a->inbox.size() << " " << b->inbox.size();
  for (CoreNode* n : {a, b}) {
    std::vector<MessageBatch> got = n->inbox.Take();
    for (uint64_t i = 0; i < kBatches; i++) {
      ASSERT_EQ(got[i].messages.size(), 1u);
      EXPECT_EQ(got[i].messages[0].msg.index, i);
      EXPECT_EQ(got[i].messages[0].msg.entries.at(0).data.ToString(), "value-" + std::to_string(i));
    }
  }
  EXPECT_EQ(a->sent_on_loop.load(), kBatches);
}

TEST_F(CoreIoTransportTest, StoppedAndRestartedNodeIsReconnected) {
  CoreNode* a = StartNode(1, {1, 2});
  ASSERT_NE(StartNode(2, {1, 2}), nullptr);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2); }));
  Stop(nodes_.at(2).get());  // the loop stops first, then the transport goes
  nodes_.erase(2);
  ASSERT_TRUE(WaitFor([&] { return !a->transport->Reachable(2); }));
  CoreNode* b = StartNode(2, {1, 2});
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Connected(a, 2) && Connected(b, 1); }));
  SendOnLoop(a, Batch(1, 2, 5));
  ASSERT_TRUE(WaitFor([&] { return b->inbox.size() == 1; }));
  EXPECT_EQ(b->inbox.Take().at(0).messages.at(0).msg.index, 5u);
}

TEST_F(CoreIoTransportTest, TransportOfALoopThatNeverRanIsDestroyedCleanly) {
  // As NodeRuntime::Open failing after the transport started: the loop never
  // runs; the transport's queued handlers are dropped with the io_context.
  CoreNode* a = StartNode(1, {1, 2}, /*run=*/false);
  ASSERT_NE(a, nullptr);
  a->transport->Send(Batch(1, 2, 0));  // queued (connecting), never written
  Stop(a);
  nodes_.erase(1);  // the io_context goes last, with the handlers it holds
}

}  // namespace
}  // namespace dkv::transport

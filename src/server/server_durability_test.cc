// The in-process server over an engine whose synced writes wait at a gate:
// under appendfsync always no reply may leave before the writes it shows
// are durable, the writer's "+OK" nor another client's read of the value.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "server/config.h"
#include "server/kv_engine.h"
#include "server/server.h"

namespace dkv::server {
namespace {

// A MemEngine whose synced writes block while the gate is closed, as a slow
// fsync would: the write is not durable (and not acknowledged) until then.
class GatedSyncEngine final : public KvEngine {
 public:
  Status Get(std::string_view key, std::string* value) override { return mem_.Get(key, value); }
  Status Apply(const std::vector<KvWrite>& writes) override { return mem_.Apply(writes); }
  Status Write(const storage::WriteBatch& batch, bool sync) override {
    if (sync) WaitForGate();
    return mem_.Write(batch, false);
  }
  Status WriteThenNotify(const storage::WriteBatch& batch, bool sync,
                         const std::function<void()>& on_logged) override {
    if (sync) WaitForGate();
    DKV_RETURN_IF_ERROR(mem_.Write(batch, false));
    on_logged();
    return Status::OK();
  }
  Status Sync() override {
    WaitForGate();
    return Status::OK();
  }
  Status Scan(std::string_view start, std::string_view limit, size_t max,
              std::vector<std::pair<std::string, std::string>>* out) override {
    return mem_.Scan(start, limit, max, out);
  }

  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // True once a synced write has waited at the closed gate.
  bool WaitUntilSomeoneWaits(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [this] { return waiting_ > 0; });
  }

 private:
  void WaitForGate() {
    std::unique_lock<std::mutex> l(mu_);
    waiting_++;
    cv_.notify_all();
    cv_.wait(l, [this] { return open_; });
    waiting_--;
  }

  MemEngine mem_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// A blocking loopback client speaking raw RESP.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  void Send(const std::string& bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Whatever arrives within `timeout` (stops early once `want` bytes came).
  std::string Receive(std::chrono::milliseconds timeout, size_t want) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < want) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[256];
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string Command(std::initializer_list<std::string> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

class ServerDurabilityTest : public ::testing::Test {
 protected:
  void StartServer(AppendFsync fsync) {
    ServerConfig config;
    config.bind = "127.0.0.1";
    config.port = 0;
    config.appendfsync = fsync;
    server_ = std::make_unique<Server>(config, &engine_);
    thread_ = std::thread([this] { run_status_ = server_->Run(); });
    for (int i = 0; i < 500 && server_->bound_port() == 0; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_NE(server_->bound_port(), 0) << "the server did not start";
  }
  void TearDown() override {
    engine_.Open();
    if (server_ != nullptr) {
      server_->Stop();
      thread_.join();
      EXPECT_TRUE(run_status_.ok()) << run_status_.ToString();
    }
  }

  // Blocks the loop for a moment (DEBUG SLEEP from a third client) and sends
  // the writer's SET and the reader's GET meanwhile, so that the loop serves
  // both in one pass, the read before the write's commit; the commit then
  // waits at the closed gate.
  void WriteAndReadInOnePass(Client* writer, Client* reader) {
    Client sleeper(server_->bound_port());
    ASSERT_TRUE(sleeper.connected());
    sleeper.Send(Command({"DEBUG", "SLEEP", "0.3"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    engine_.Close();
    writer->Send(Command({"SET", "k", "new"}));
    // After the SET, so the loop reads it first.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    reader->Send(Command({"GET", "k"}));
    ASSERT_EQ(sleeper.Receive(std::chrono::seconds(5), 5), "+OK\r\n");
    ASSERT_TRUE(engine_.WaitUntilSomeoneWaits(std::chrono::seconds(5)))
        << "the SET's commit never reached the engine";
  }

  GatedSyncEngine engine_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  Status run_status_;
};

TEST_F(ServerDurabilityTest, AReadDoesNotShowAWriteBeforeItIsDurable) {
  StartServer(AppendFsync::kAlways);
  Client writer(server_->bound_port());
  Client reader(server_->bound_port());
  ASSERT_TRUE(writer.connected() && reader.connected());
  writer.Send(Command({"SET", "k", "old"}));
  ASSERT_EQ(writer.Receive(std::chrono::seconds(5), 5), "+OK\r\n");

  WriteAndReadInOnePass(&writer, &reader);
  // The fsync has not finished: neither the SET's reply nor a read showing
  // its value may have left.
  EXPECT_EQ(writer.Receive(std::chrono::milliseconds(300), 1), "");
  EXPECT_EQ(reader.Receive(std::chrono::milliseconds(300), 1), "");

  engine_.Open();
  EXPECT_EQ(writer.Receive(std::chrono::seconds(5), 5), "+OK\r\n");
  EXPECT_EQ(reader.Receive(std::chrono::seconds(5), 9), "$3\r\nnew\r\n");
}

TEST_F(ServerDurabilityTest, ReadsDoNotWaitWhenEveryWriteIsDurable) {
  StartServer(AppendFsync::kAlways);
  Client writer(server_->bound_port());
  Client reader(server_->bound_port());
  ASSERT_TRUE(writer.connected() && reader.connected());
  writer.Send(Command({"SET", "k", "v"}));
  ASSERT_EQ(writer.Receive(std::chrono::seconds(5), 5), "+OK\r\n");
  // Nothing is being committed: with the gate closed a read still answers.
  engine_.Close();
  reader.Send(Command({"GET", "k"}));
  EXPECT_EQ(reader.Receive(std::chrono::seconds(5), 7), "$1\r\nv\r\n");
}

}  // namespace
}  // namespace dkv::server

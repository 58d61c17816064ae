// Unit tests of the FaultProxy against an echo server in this process: bytes
// pass both ways, a cut drops them silently (no error, no reset), healing closes
// the connection whose stream lost bytes and new connections pass again, and a
// delay holds bytes in order for at least the delay.
#include "cluster_faults/fault_proxy.h"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

namespace dkv::faults {
namespace {

// Accepts connections on a loopback port and echoes every byte, one thread per
// connection; the destructor shuts everything down.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] {
      while (true) {
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0) return;
        conns_.push_back(c);
        workers_.emplace_back([c] {
          char buf[4096];
          ssize_t n;
          while ((n = ::recv(c, buf, sizeof(buf), 0)) > 0) {
            if (::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) return;
          }
        });
      }
    });
  }
  ~EchoServer() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    acceptor_.join();
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    for (auto& w : workers_) w.join();
    for (int c : conns_) ::close(c);
  }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;
  std::vector<int> conns_;  // acceptor thread until joined
  std::vector<std::thread> workers_;
};

int Connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  return fd;
}

// Reads up to `n` bytes, waiting at most `wait_ms` for each; "" on nothing.
// `closed` is set when the peer closed the connection.
std::string ReadSome(int fd, size_t n, int wait_ms, bool* closed = nullptr) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, wait_ms) <= 0) break;
    char buf[4096];
    const ssize_t r = ::recv(fd, buf, std::min(sizeof(buf), n - out.size()), 0);
    if (r <= 0) {
      if (closed != nullptr) *closed = true;
      break;
    }
    out.append(buf, static_cast<size_t>(r));
  }
  return out;
}

void SendAll(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto port = proxy_.AddLink(kLink, "127.0.0.1", "127.0.0.1", echo_.port());
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.value();
  }
  static constexpr LinkId kLink{1, 2};
  EchoServer echo_;
  FaultProxy proxy_;
  uint16_t port_ = 0;
};

TEST_F(FaultProxyTest, ForwardsBytesBothWays) {
  const int fd = Connect(port_);
  SendAll(fd, "hello through the proxy");
  EXPECT_EQ(ReadSome(fd, 23, 5000), "hello through the proxy");
  ::close(fd);
  EXPECT_EQ(proxy_.Stats(kLink).connections_accepted, 1u);
  // The counter moves when a write completes, which may be just after the
  // echo arrived: wait for it (bounded).
  for (int i = 0; i < 100 && proxy_.Stats(kLink).bytes_forwarded < 46; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(proxy_.Stats(kLink).bytes_forwarded, 46u);
}

TEST_F(FaultProxyTest, AddingALinkTwiceIsRefused) {
  auto again = proxy_.AddLink(kLink, "127.0.0.1", "127.0.0.1", echo_.port());
  EXPECT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsInvalidArgument()) << again.status().ToString();
}

TEST_F(FaultProxyTest, CutDropsSilentlyAndHealClosesTheBrokenStream) {
  const int fd = Connect(port_);
  SendAll(fd, "a");
  ASSERT_EQ(ReadSome(fd, 1, 5000), "a");
  proxy_.Cut(kLink);
  SendAll(fd, "lost");  // no error for the sender: the bytes just vanish
  bool closed = false;
  EXPECT_EQ(ReadSome(fd, 4, 300, &closed), "");
  EXPECT_FALSE(closed);
  // A connection made during the cut is accepted and goes nowhere.
  const int during = Connect(port_);
  SendAll(during, "x");
  EXPECT_EQ(ReadSome(during, 1, 300), "");

  proxy_.Heal(kLink);
  closed = false;
  EXPECT_EQ(ReadSome(fd, 1, 5000, &closed), "");
  EXPECT_TRUE(closed) << "a stream that lost bytes is closed on heal";
  closed = false;
  ReadSome(during, 1, 5000, &closed);
  EXPECT_TRUE(closed);
  EXPECT_GE(proxy_.Stats(kLink).bytes_dropped, 5u);
  EXPECT_EQ(proxy_.Stats(kLink).connections_closed_on_heal, 2u);

  const int fresh = Connect(port_);
  SendAll(fresh, "again");
  EXPECT_EQ(ReadSome(fresh, 5, 5000), "again");
  ::close(fd);
  ::close(during);
  ::close(fresh);
}

TEST_F(FaultProxyTest, IsolateCutsEveryLinkOfTheNodeAndHealAllRestoresThem) {
  const int fd = Connect(port_);
  proxy_.Isolate(2);  // kLink goes to node 2
  SendAll(fd, "z");
  EXPECT_EQ(ReadSome(fd, 1, 300), "");
  proxy_.HealAll();
  const int fresh = Connect(port_);
  SendAll(fresh, "ok");
  EXPECT_EQ(ReadSome(fresh, 2, 5000), "ok");
  ::close(fd);
  ::close(fresh);
}

TEST_F(FaultProxyTest, DelayHoldsBytesInOrderForAtLeastTheDelay) {
  const int fd = Connect(port_);
  proxy_.Delay(kLink, std::chrono::milliseconds(150));
  const auto start = std::chrono::steady_clock::now();
  SendAll(fd, "one,");
  SendAll(fd, "two,");
  SendAll(fd, "three");
  EXPECT_EQ(ReadSome(fd, 13, 5000), "one,two,three");
  // Both directions are delayed: the echo took at least two delays.
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
  ::close(fd);
}

}  // namespace
}  // namespace dkv::faults

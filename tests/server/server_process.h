// ServerProcess: starts the real distkv-server on a free loopback port with a
// fresh data directory, for black-box tests, and always kills it (the child
// also dies with the test process through PR_SET_PDEATHSIG). RawConn is a
// plain blocking socket for sending exact bytes. Tests only; one thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace dkv::server::testing {

// A port the kernel just handed out (closed again: a tiny race, acceptable
// on loopback in tests).
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{10, 0};  // a hung server fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool connected() const { return connected_; }
  bool Send(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads until `n` bytes arrived, EOF, or the timeout.
  std::string ReadN(size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
      ssize_t r = ::recv(fd_, buf, std::min(sizeof(buf), n - out.size()), 0);
      if (r <= 0) break;
      out.append(buf, static_cast<size_t>(r));
    }
    return out;
  }
  // Reads until EOF (or timeout); true if the peer closed.
  bool ReadToEof(std::string* out) {
    char buf[65536];
    while (true) {
      ssize_t r = ::recv(fd_, buf, sizeof(buf), 0);
      if (r == 0) return true;
      if (r < 0) return false;
      out->append(buf, static_cast<size_t>(r));
    }
  }
  // Sends a command in RESP and reads one reply line-ish (for short replies).
  std::string Call(const std::vector<std::string>& argv, size_t expect_bytes) {
    std::string req = "*" + std::to_string(argv.size()) + "\r\n";
    for (const auto& a : argv) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    Send(req);
    return ReadN(expect_bytes);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class ServerProcess {
 public:
  // `dir` empty: a fresh temp dir, removed at the end.
  explicit ServerProcess(std::vector<std::string> extra_args = {}, std::string dir = "")
      : extra_args_(std::move(extra_args)) {
    if (dir.empty()) {
      char tmpl[] = "/tmp/dkv-server-test-XXXXXX";
      dir_ = ::mkdtemp(tmpl);
      owns_dir_ = true;
    } else {
      dir_ = dir;
    }
    try {
      Start();
    } catch (...) {
      // The destructor will not run: clean up here.
      Kill(SIGKILL);
      if (owns_dir_) std::filesystem::remove_all(dir_);
      throw;
    }
  }
  ~ServerProcess() {
    Kill(SIGKILL);
    if (owns_dir_) std::filesystem::remove_all(dir_);
  }

  void Start() {
    port_ = FreePort();
    std::vector<std::string> args = {
        DISTKV_SERVER_PATH, "--port", std::to_string(port_), "--dir", dir_ + "/data",
        "--loglevel",       "warn"};
    for (const auto& a : extra_args_) args.push_back(a);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      std::vector<char*> cargs;
      for (auto& a : args) cargs.push_back(a.data());
      cargs.push_back(nullptr);
      ::execv(cargs[0], cargs.data());
      ::_exit(127);
    }
    // Ready when it answers PING (bounded wait: 20 s for a slow machine).
    for (int i = 0; i < 400; i++) {
      RawConn c(port_);
      // Any reply means it serves (with requirepass, PING says NOAUTH).
      if (c.connected() && c.Call({"PING"}, 1).size() == 1) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("distkv-server exited during startup");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("distkv-server did not answer PING");
  }

  // Sends `sig` and waits for the exit; returns the exit status (or -1).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  // Sends `sig` without waiting (Wait() collects the exit).
  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  // Waits for the exit; returns the exit status (or -1 if not running).
  int Wait() {
    if (pid_ <= 0) return -1;
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }
  void Restart() {
    Kill(SIGKILL);
    Start();
  }

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  pid_t pid() const { return pid_; }

 private:
  std::vector<std::string> extra_args_;
  std::string dir_;
  bool owns_dir_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace dkv::server::testing

#include "cluster/probe.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace dkv::cluster {

namespace {

using Clock = std::chrono::steady_clock;

int64_t MsLeft(Clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
}

// A connected socket, closed on destruction.
class Socket {
 public:
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

  Status Connect(const std::string& host, int port, Clock::time_point deadline) {
    const std::string where = host + ":" + std::to_string(port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
    if (rc != 0) return Status::Unavailable(where, ::gai_strerror(rc));
    Status status = Status::Unavailable(where, "no address");
    for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
      int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) continue;
      if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        int64_t left = std::max<int64_t>(0, MsLeft(deadline));
        if (::poll(&p, 1, static_cast<int>(left)) == 1) {
          int err = 0;
          socklen_t len = sizeof(err);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          if (err == 0) {
            fd_ = fd;
            status = Status::OK();
            break;
          }
          status = Status::Unavailable(where, std::strerror(err));
        } else {
          status = Status::TimedOut(where, "connect");
        }
      } else {
        status = Status::Unavailable(where, std::strerror(errno));
      }
      ::close(fd);
    }
    ::freeaddrinfo(res);
    return status;
  }

  Status SendAll(const std::string& bytes, Clock::time_point deadline) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno != EAGAIN && errno != EINTR) {
        return Status::Unavailable("send", std::strerror(errno));
      }
      DKV_RETURN_IF_ERROR(Wait(POLLOUT, deadline));
    }
    return Status::OK();
  }

  // Appends what arrives to *buf; OK with *eof set when the peer closed.
  Status ReadSome(std::string* buf, bool* eof, Clock::time_point deadline) {
    char chunk[16384];
    while (true) {
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n > 0) {
        buf->append(chunk, static_cast<size_t>(n));
        if (buf->size() > kMaxProbeReplyBytes) {
          return Status::ResourceExhausted("probe reply", "larger than kMaxProbeReplyBytes");
        }
        *eof = false;
        return Status::OK();
      }
      if (n == 0) {
        *eof = true;
        return Status::OK();
      }
      if (errno != EAGAIN && errno != EINTR) {
        return Status::Unavailable("recv", std::strerror(errno));
      }
      DKV_RETURN_IF_ERROR(Wait(POLLIN, deadline));
    }
  }

 private:
  Status Wait(short events, Clock::time_point deadline) {
    int64_t left = MsLeft(deadline);
    if (left <= 0) return Status::TimedOut("probe", "no answer in time");
    pollfd p{fd_, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
    if (rc == 0) return Status::TimedOut("probe", "no answer in time");
    if (rc < 0 && errno != EINTR) return Status::Unavailable("poll", std::strerror(errno));
    return Status::OK();
  }

  int fd_ = -1;
};

// Parses one RESP reply at the start of buf. Returns false if incomplete.
// Arrays are not expected from PING/INFO; they are reported as text.
bool ParseReply(const std::string& buf, Result<std::string>* out) {
  size_t eol = buf.find("\r\n");
  if (eol == std::string::npos) return false;
  const char type = buf[0];
  std::string line = buf.substr(1, eol - 1);
  switch (type) {
    case '+':
    case ':':
      *out = line;
      return true;
    case '-':
      *out = Status::Aborted("reply", line);
      return true;
    case '$': {
      long len = std::strtol(line.c_str(), nullptr, 10);
      if (len < 0) {
        *out = std::string("(nil)");
        return true;
      }
      if (buf.size() < eol + 2 + static_cast<size_t>(len) + 2) return false;
      *out = buf.substr(eol + 2, static_cast<size_t>(len));
      return true;
    }
    case '=': {  // RESP3 verbatim string: "txt:" prefix
      long len = std::strtol(line.c_str(), nullptr, 10);
      if (buf.size() < eol + 2 + static_cast<size_t>(len) + 2) return false;
      std::string v = buf.substr(eol + 2, static_cast<size_t>(len));
      *out = v.size() >= 4 ? v.substr(4) : v;
      return true;
    }
    default:
      *out = Status::Corruption("reply", "unexpected RESP type '" + std::string(1, type) + "'");
      return true;
  }
}

// Parses one array of bulk strings at the start of buf (an error reply too).
// Returns false if incomplete.
bool ParseLines(const std::string& buf, Result<std::vector<std::string>>* out) {
  size_t eol = buf.find("\r\n");
  if (eol == std::string::npos) return false;
  if (buf[0] == '-') {
    *out = Status::Aborted("reply", buf.substr(1, eol - 1));
    return true;
  }
  if (buf[0] != '*') {
    *out = Status::Corruption("reply", "expected an array");
    return true;
  }
  const long count = std::strtol(buf.c_str() + 1, nullptr, 10);
  if (count < 0 || count > 1'000'000) {
    *out = Status::Corruption("reply", "bad array length");
    return true;
  }
  std::vector<std::string> lines;
  size_t pos = eol + 2;
  for (long i = 0; i < count; i++) {
    const size_t end = buf.find("\r\n", pos);
    if (end == std::string::npos) return false;
    if (buf[pos] != '$') {
      *out = Status::Corruption("reply", "expected bulk strings");
      return true;
    }
    const long len = std::strtol(buf.c_str() + pos + 1, nullptr, 10);
    if (len < 0) {
      *out = Status::Corruption("reply", "null in the array");
      return true;
    }
    if (buf.size() < end + 2 + static_cast<size_t>(len) + 2) return false;
    lines.push_back(buf.substr(end + 2, static_cast<size_t>(len)));
    pos = end + 2 + static_cast<size_t>(len) + 2;
  }
  *out = std::move(lines);
  return true;
}

}  // namespace

Result<std::vector<std::string>> RespCallLines(const std::string& host, int port,
                                               const std::vector<std::string>& argv,
                                               int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Socket sock;
  DKV_RETURN_IF_ERROR(sock.Connect(host, port, deadline));
  std::string req = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  DKV_RETURN_IF_ERROR(sock.SendAll(req, deadline));
  std::string buf;
  while (true) {
    Result<std::vector<std::string>> reply = Status::Corruption("reply", "none");
    if (!buf.empty() && ParseLines(buf, &reply)) return reply;
    bool eof = false;
    DKV_RETURN_IF_ERROR(sock.ReadSome(&buf, &eof, deadline));
    if (eof) {
      if (!buf.empty() && ParseLines(buf, &reply)) return reply;
      return Status::Unavailable(host + ":" + std::to_string(port), "closed before replying");
    }
  }
}

Result<std::string> RespCall(const std::string& host, int port,
                             const std::vector<std::string>& argv, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Socket sock;
  DKV_RETURN_IF_ERROR(sock.Connect(host, port, deadline));
  std::string req = "*" + std::to_string(argv.size()) + "\r\n";
  for (const auto& a : argv) req += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  DKV_RETURN_IF_ERROR(sock.SendAll(req, deadline));
  std::string buf;
  while (true) {
    Result<std::string> reply = Status::Corruption("reply", "none");
    if (!buf.empty() && ParseReply(buf, &reply)) return reply;
    bool eof = false;
    DKV_RETURN_IF_ERROR(sock.ReadSome(&buf, &eof, deadline));
    if (eof) {
      if (!buf.empty() && ParseReply(buf, &reply)) return reply;
      return Status::Unavailable(host + ":" + std::to_string(port), "closed before replying");
    }
  }
}

Result<int> HttpGet(const std::string& host, int port, const std::string& path, int timeout_ms,
                    std::string* body) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  Socket sock;
  DKV_RETURN_IF_ERROR(sock.Connect(host, port, deadline));
  DKV_RETURN_IF_ERROR(
      sock.SendAll("GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n", deadline));
  std::string buf;
  bool eof = false;
  while (!eof) DKV_RETURN_IF_ERROR(sock.ReadSome(&buf, &eof, deadline));
  // "HTTP/1.x NNN reason\r\n...\r\n\r\nbody"
  if (buf.size() < 12 || buf.compare(0, 5, "HTTP/") != 0) {
    return Status::Corruption("http " + path, "not an HTTP response");
  }
  int code = std::atoi(buf.c_str() + 9);
  size_t head_end = buf.find("\r\n\r\n");
  body->assign(head_end == std::string::npos ? "" : buf.substr(head_end + 4));
  return code;
}

std::map<std::string, std::string> ParseInfo(const std::string& info) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos < info.size()) {
    size_t eol = info.find('\n', pos);
    if (eol == std::string::npos) eol = info.size();
    std::string line = info.substr(pos, eol - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t colon = line.find(':');
    if (!line.empty() && line[0] != '#' && colon != std::string::npos) {
      out[line.substr(0, colon)] = line.substr(colon + 1);
    }
    pos = eol + 1;
  }
  return out;
}

}  // namespace dkv::cluster

// dkv_kvload: one closed-loop load generator for DistKV (RESP) and etcd (v3
// JSON gateway), so the ratio of their figures compares the stores and not
// the clients (issue #5's benchmark). Each client is one connection with one
// request in flight; clients are spread round-robin over the endpoints and
// driven by epoll threads. Reports ops/s and latency percentiles (text and
// JSON). `--op failover --kill-pid P` instead kills P with SIGKILL and
// measures the time until the next successful write through any endpoint.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_config.h"
#include "common/status.h"
#include "kvload/kvload.h"
#include "kvload/protocol.h"
#include "sharding/hash_ring.h"
#include "sharding/shard_map.h"

namespace dkv::kvload {

std::string MakeKey(int64_t i, int key_size) {
  std::string digits = std::to_string(i);
  std::string key = "k";
  if (static_cast<int>(digits.size()) + 1 < key_size) key.append(key_size - 1 - digits.size(), '0');
  return key + digits;
}

namespace {

using Clock = std::chrono::steady_clock;

// Wait before reconnecting a client whose connection failed: fast enough to
// notice a restarted node, slow enough not to spin on a dead one.
constexpr auto kReconnectDelay = std::chrono::milliseconds(50);
// Default for --attempt-timeout-ms: one failover write attempt waits this
// long before the next starts (on the next endpoint), which bounds the
// figure's resolution; 200 ms is ~100x an idle durable put on this machine.
constexpr int kDefaultFailoverAttemptTimeoutMs = 200;
// Give up measuring failover after this long.
constexpr int kFailoverMaxMs = 60'000;
// Distinct keys a shard-filtered failover cycles through (attempts are at
// least 5 ms apart, so 60 s of attempts reuse them; reuse is harmless).
constexpr size_t kFailoverMaxKeys = 1000;
// Keys tried while looking for those of one shard: with S shards about
// 1/S of keys qualify, so this bound is reached only for a bad shard id.
constexpr int64_t kShardKeySearchMax = 10'000'000;

// The first `count` keys (MakeKey order) that the cluster's ring puts in
// o.failover_shard.
Result<std::vector<std::string>> KeysOfShard(const Options& o, size_t count) {
  if (o.cluster_config.empty()) {
    return Status::InvalidArgument("--failover-shard", "needs --cluster-config");
  }
  DKV_ASSIGN_OR_RETURN(cluster::ClusterConfig config, cluster::LoadClusterConfig(o.cluster_config));
  DKV_ASSIGN_OR_RETURN(sharding::ShardMap map, config.InitialShardMap());
  const sharding::HashRing ring = map.BuildRing();
  std::vector<std::string> keys;
  for (int64_t i = 0; i < kShardKeySearchMax && keys.size() < count; i++) {
    std::string key = MakeKey(i, o.key_size);
    DKV_ASSIGN_OR_RETURN(sharding::ShardId shard, ring.ShardFor(key));
    if (shard == static_cast<sharding::ShardId>(o.failover_shard)) keys.push_back(std::move(key));
  }
  if (keys.empty()) {
    return Status::InvalidArgument("--failover-shard",
                                   "no key maps to shard " + std::to_string(o.failover_shard));
  }
  return keys;
}

struct Endpoint {
  std::string host;
  int port = 0;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
};

bool Resolve(const std::string& spec, Endpoint* e) {
  std::string s = spec;
  if (s.rfind("http://", 0) == 0) s = s.substr(7);
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  e->host = s.substr(0, colon);
  e->port = std::atoi(s.c_str() + colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(e->host.c_str(), std::to_string(e->port).c_str(), &hints, &res) != 0) {
    return false;
  }
  std::memcpy(&e->addr, res->ai_addr, res->ai_addrlen);
  e->addr_len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return true;
}

struct Client {
  int fd = -1;
  size_t endpoint = 0;
  std::string out;
  size_t out_off = 0;
  std::string in;
  Clock::time_point sent;
  Clock::time_point retry_at;
  bool connecting = false;
  bool in_flight = false;
  std::mt19937_64 rng;
  int64_t fill_next = -1;  // fill mode: next key this client writes
};

class Driver {
 public:
  Driver(const Options& o, std::vector<Endpoint> endpoints, const Protocol* protocol)
      : o_(o), endpoints_(std::move(endpoints)), protocol_(protocol) {
    value_.assign(o.value_size, 'v');
  }

  // Runs the clients [first, first+count) on this thread until stop_.
  void RunThread(int first, int count, LoadResult* stats) {
    int ep = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<Client> clients(count);
    for (int i = 0; i < count; i++) {
      Client& c = clients[i];
      c.endpoint = static_cast<size_t>(first + i) % endpoints_.size();
      c.rng.seed(o_.seed * 1000003 + first + i);
      if (fill_) c.fill_next = first + i;
      Connect(ep, &c, i, stats);
    }
    std::vector<epoll_event> events(count + 1);
    while (!stop_.load(std::memory_order_relaxed)) {
      int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10);
      auto now = Clock::now();
      for (int k = 0; k < n; k++) {
        int i = static_cast<int>(events[k].data.u32);
        Handle(ep, &clients[i], i, events[k].events, stats);
      }
      for (int i = 0; i < count; i++) {
        Client& c = clients[i];
        if (c.fd < 0 && now >= c.retry_at && !stop_.load(std::memory_order_relaxed)) {
          Connect(ep, &c, i, stats);
        }
      }
    }
    for (Client& c : clients) {
      if (c.fd >= 0) ::close(c.fd);
    }
    ::close(ep);
  }

  void Stop() { stop_.store(true); }
  void SetFill() { fill_ = true; }
  int64_t Done() const { return done_.load(std::memory_order_relaxed); }

 private:
  void Connect(int ep, Client* c, int index, LoadResult* stats) {
    const Endpoint& e = endpoints_[c->endpoint];
    c->fd = ::socket(e.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int rc = ::connect(c->fd, reinterpret_cast<const sockaddr*>(&e.addr), e.addr_len);
    if (rc != 0 && errno != EINPROGRESS) {
      Drop(ep, c, stats);
      return;
    }
    c->connecting = rc != 0;
    c->in.clear();
    c->out.clear();
    c->out_off = 0;
    c->in_flight = false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.u32 = static_cast<uint32_t>(index);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    if (!c->connecting) Issue(ep, c, stats);
  }

  // A failed connection: count it, try the next endpoint after a pause.
  void Drop(int ep, Client* c, LoadResult* stats) {
    if (c->fd >= 0) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
      ::close(c->fd);
    }
    c->fd = -1;
    if (c->in_flight) stats->errors++;
    c->in_flight = false;
    stats->reconnects++;
    c->endpoint = (c->endpoint + 1) % endpoints_.size();
    c->retry_at = Clock::now() + kReconnectDelay;
  }

  void Issue(int ep, Client* c, LoadResult* stats) {
    if (stop_.load(std::memory_order_relaxed)) return;
    int64_t key_index;
    Op op = o_.op == "get" ? Op::kGet : Op::kPut;
    if (fill_) {
      if (c->fill_next >= o_.keys) return;  // this client's share is written
      key_index = c->fill_next;
    } else {
      key_index = static_cast<int64_t>(c->rng() % static_cast<uint64_t>(o_.keys));
    }
    c->out.clear();
    c->out_off = 0;
    protocol_->AppendRequest(op, MakeKey(key_index, o_.key_size), value_, &c->out);
    c->sent = Clock::now();
    c->in_flight = true;
    Flush(ep, c, stats);
  }

  void Flush(int ep, Client* c, LoadResult* stats) {
    while (c->out_off < c->out.size()) {
      ssize_t n =
          ::send(c->fd, c->out.data() + c->out_off, c->out.size() - c->out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_off += static_cast<size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;  // EPOLLOUT resumes
      } else {
        Drop(ep, c, stats);
        return;
      }
    }
  }

  void Handle(int ep, Client* c, int index, uint32_t events, LoadResult* stats) {
    if (c->fd < 0) return;
    if (c->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        Drop(ep, c, stats);
        return;
      }
      c->connecting = false;
      Issue(ep, c, stats);
      if (c->fd < 0) return;
    }
    if (events & EPOLLOUT) Flush(ep, c, stats);
    if (c->fd < 0) return;
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
      char buf[65536];
      while (true) {
        ssize_t n = ::recv(c->fd, buf, sizeof(buf), 0);
        if (n > 0) {
          c->in.append(buf, static_cast<size_t>(n));
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
        Drop(ep, c, stats);  // closed or failed
        return;
      }
      while (c->in_flight && !c->in.empty()) {
        size_t consumed = 0;
        bool close_after = false;
        ParseResult r = protocol_->Parse(c->in, &consumed, &close_after);
        if (r == ParseResult::kIncomplete) break;
        if (r == ParseResult::kBroken) {
          Drop(ep, c, stats);
          return;
        }
        c->in.erase(0, consumed);
        c->in_flight = false;
        auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c->sent).count();
        if (r == ParseResult::kOk) {
          stats->ops++;
          stats->latencies_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
          if (fill_) c->fill_next += o_.clients;
          int64_t total = done_.fetch_add(1, std::memory_order_relaxed) + 1;
          if (o_.ops > 0 && total >= o_.ops) stop_.store(true);
        } else {
          stats->errors++;
        }
        if (close_after) {
          Drop(ep, c, stats);
          return;
        }
        Issue(ep, c, stats);
        if (c->fd < 0) return;
      }
    }
    (void)index;
  }

  const Options& o_;
  std::vector<Endpoint> endpoints_;
  const Protocol* protocol_;
  std::string value_;
  bool fill_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> done_{0};
};

// One blocking request with a deadline on a fresh connection. True on success.
bool OneRequest(const Endpoint& e, const Protocol& protocol, Op op, const std::string& key,
                const std::string& value, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  };
  int fd = ::socket(e.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  do {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.addr_len) != 0 &&
        errno != EINPROGRESS) {
      break;
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, left()) != 1) break;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) break;
    std::string out;
    protocol.AppendRequest(op, key, value, &out);
    if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
      break;
    }
    std::string in;
    while (left() > 0) {
      pollfd r{fd, POLLIN, 0};
      if (::poll(&r, 1, left()) != 1) break;
      char buf[8192];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      size_t consumed = 0;
      bool close_after = false;
      ParseResult res = protocol.Parse(in, &consumed, &close_after);
      if (res == ParseResult::kIncomplete) continue;
      ok = res == ParseResult::kOk;
      break;
    }
  } while (false);
  ::close(fd);
  return ok;
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The key of failover attempt `n`: key n, or with a shard filter the n-th
// key of that shard.
using KeyOfAttempt = std::function<std::string(int64_t n)>;

int RunFailover(const Options& o, size_t endpoint_count, const WriteAttempt& attempt,
                const KeyOfAttempt& key_of, const std::string& name) {
  // The cluster must accept writes before the kill, or the figure means nothing.
  bool before = false;
  for (size_t i = 0; i < endpoint_count && !before; i++) {
    before = attempt(i, key_of(0), 5000);
  }
  if (!before) {
    std::cerr << "kvload: no endpoint accepts a write before the kill\n";
    return 1;
  }
  if (::kill(o.kill_pid, SIGKILL) != 0) {
    std::cerr << "kvload: kill " << o.kill_pid << ": " << std::strerror(errno) << "\n";
    return 1;
  }
  const auto t0 = Clock::now();
  int attempts = 0;
  bool ok = false;
  size_t next = 0;
  while (!ok && Clock::now() - t0 < std::chrono::milliseconds(kFailoverMaxMs)) {
    attempts++;
    ok = attempt(next, key_of(attempts), o.attempt_timeout_ms);
    if (!ok) {
      next = (next + 1) % endpoint_count;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  std::ostringstream json;
  json << "{\"label\":\"" << JsonEscape(o.label) << "\",\"protocol\":\"" << name
       << "\",\"op\":\"failover\",\"killed_pid\":" << o.kill_pid
       << ",\"recovered\":" << (ok ? "true" : "false") << ",\"failover_ms\":" << ms
       << ",\"attempts\":" << attempts << ",\"attempt_timeout_ms\":" << o.attempt_timeout_ms
       << ",\"shard\":" << o.failover_shard << "}";
  std::printf("%s failover: %s after %.1f ms (%d attempts)\n", name.c_str(),
              ok ? "write succeeded" : "NO successful write", ms, attempts);
  std::cout << json.str() << "\n";
  if (!o.json_path.empty()) std::ofstream(o.json_path, std::ios::app) << json.str() << "\n";
  return ok ? 0 : 1;
}

// The socket back ends (RESP, etcd JSON gateway): clients split over threads.
LoadResult RunSocketLoad(const Options& o, const std::vector<Endpoint>& endpoints,
                         const Protocol* protocol) {
  Driver driver(o, endpoints, protocol);
  if (o.op == "fill") driver.SetFill();
  int threads = std::min(o.threads, o.clients);
  std::vector<LoadResult> stats(threads);
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0, first = 0; t < threads; t++) {
    int count = o.clients / threads + (t < o.clients % threads ? 1 : 0);
    workers.emplace_back(
        [&driver, first, count, s = &stats[t]] { driver.RunThread(first, count, s); });
    first += count;
  }
  // Wait for the duration, or until --ops are done (bounded either way).
  const auto limit = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.ops > 0 ? 600.0 : o.duration_s));
  while (Clock::now() < limit && (o.ops <= 0 || driver.Done() < o.ops)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  driver.Stop();
  for (auto& w : workers) w.join();
  LoadResult all;
  for (auto& s : stats) all.Merge(s);
  return all;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"dkv_kvload: closed-loop put/get load against DistKV (RESP) or etcd"};
  app.add_option("--protocol", o.protocol,
                 "resp | etcd (gRPC KV API) | etcd-http (v3 JSON gateway)")
      ->check(CLI::IsMember({"resp", "etcd", "etcd-http"}))
      ->capture_default_str();
  app.add_option("--endpoints", o.endpoints, "host:port, comma separated")->delimiter(',');
  app.add_option("--clients", o.clients, "concurrent clients, one request in flight each")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "client threads")->capture_default_str();
  app.add_option("--conns", o.conns, "etcd gRPC: channels shared by the clients (0 = one each)")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "seconds (ignored with --ops)")->capture_default_str();
  app.add_option("--ops", o.ops, "stop after this many successful operations");
  app.add_option("--op", o.op, "put | get | fill (put every key once) | failover")
      ->check(CLI::IsMember({"put", "get", "fill", "failover"}))
      ->capture_default_str();
  app.add_option("--key-size", o.key_size, "key bytes")->capture_default_str();
  app.add_option("--value-size", o.value_size, "value bytes")->capture_default_str();
  app.add_option("--keys", o.keys, "distinct keys (uniform random)")->capture_default_str();
  app.add_option("--seed", o.seed, "key choice seed")->capture_default_str();
  app.add_option("--json", o.json_path, "append the result as one JSON line to this file");
  app.add_option("--label", o.label, "free text copied into the JSON");
  app.add_option("--kill-pid", o.kill_pid, "failover: the process to SIGKILL");
  o.attempt_timeout_ms = kDefaultFailoverAttemptTimeoutMs;
  app.add_option("--attempt-timeout-ms", o.attempt_timeout_ms,
                 "failover: give up one write attempt after this long")
      ->capture_default_str();
  app.add_option("--failover-shard", o.failover_shard,
                 "failover (DistKV): write only keys of this shard (needs --cluster-config)");
  app.add_option("--cluster-config", o.cluster_config,
                 "DistKV cluster TOML whose ring maps keys to shards");
  bool list_protocols = false;
  app.add_flag("--list-protocols", list_protocols, "print the protocols this build speaks");
  CLI11_PARSE(app, argc, argv);
  if (list_protocols) {
#ifdef DKV_KVLOAD_HAVE_GRPC
    std::cout << "resp etcd etcd-http\n";
#else
    std::cout << "resp etcd-http\n";
#endif
    return 0;
  }
  if (o.clients < 1 || o.threads < 1 || o.keys < 1 || o.key_size < 2 || o.value_size < 0 ||
      o.conns < 0) {
    std::cerr << "kvload: bad sizes\n";
    return 2;
  }
  if (o.endpoints.empty()) {
    std::cerr << "kvload: --endpoints is required\n";
    return 2;
  }
  if (o.op == "fill") o.ops = o.keys;
  if (o.op == "failover" && o.kill_pid <= 0) {
    std::cerr << "kvload: --op failover needs --kill-pid\n";
    return 2;
  }
#ifndef DKV_KVLOAD_HAVE_GRPC
  if (o.protocol == "etcd") {
    std::cerr << "kvload: built without gRPC (libgrpc++-dev, protobuf-compiler-grpc); "
                 "use --protocol etcd-http\n";
    return 2;
  }
#endif

  std::vector<Endpoint> endpoints;
  for (const auto& spec : o.endpoints) {
    Endpoint e;
    if (!Resolve(spec, &e)) {
      std::cerr << "kvload: cannot resolve " << spec << "\n";
      return 2;
    }
    endpoints.push_back(e);
  }
  std::unique_ptr<Protocol> protocol =
      o.protocol == "resp"
          ? NewRespProtocol()
          : NewEtcdHttpProtocol(endpoints[0].host + ":" + std::to_string(endpoints[0].port));
  const std::string name = o.protocol;

  if (o.op == "failover") {
    KeyOfAttempt key_of = [&o](int64_t n) { return MakeKey(n, o.key_size); };
    if (o.failover_shard >= 0) {
      Result<std::vector<std::string>> keys = KeysOfShard(o, kFailoverMaxKeys);
      if (!keys.ok()) {
        std::cerr << "kvload: " << keys.status().ToString() << "\n";
        return 2;
      }
      key_of = [keys = std::move(keys.value())](int64_t n) {
        return keys[static_cast<size_t>(n) % keys.size()];
      };
    }
    WriteAttempt attempt = [&](size_t i, const std::string& key, int timeout_ms) {
      return OneRequest(endpoints[i], *protocol, Op::kPut, key, std::string(o.value_size, 'v'),
                        timeout_ms);
    };
#ifdef DKV_KVLOAD_HAVE_GRPC
    if (o.protocol == "etcd") attempt = NewEtcdGrpcWriteAttempt(o);
#endif
    return RunFailover(o, endpoints.size(), attempt, key_of, name);
  }

  const auto start = Clock::now();
  LoadResult all;
#ifdef DKV_KVLOAD_HAVE_GRPC
  if (o.protocol == "etcd") {
    all = RunEtcdGrpcLoad(o);
  } else {
    all = RunSocketLoad(o, endpoints, protocol.get());
  }
#else
  all = RunSocketLoad(o, endpoints, protocol.get());
#endif
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const int threads = std::min(o.threads, o.clients);

  std::sort(all.latencies_us.begin(), all.latencies_us.end());
  auto pct = [&](double p) -> double {
    if (all.latencies_us.empty()) return 0;
    size_t i = static_cast<size_t>(p * static_cast<double>(all.latencies_us.size() - 1));
    return all.latencies_us[i];
  };
  const double ops_per_s = static_cast<double>(all.ops) / elapsed;
  std::printf(
      "%s %s clients=%d: %.0f ops/s  p50 %.0f us  p99 %.0f us  p99.9 %.0f us  "
      "(%lld ops, %lld errors, %lld reconnects, %.1f s)\n",
      name.c_str(), o.op.c_str(), o.clients, ops_per_s, pct(0.50), pct(0.99), pct(0.999),
      static_cast<long long>(all.ops), static_cast<long long>(all.errors),
      static_cast<long long>(all.reconnects), elapsed);
  std::ostringstream json;
  json << "{\"label\":\"" << JsonEscape(o.label) << "\",\"protocol\":\"" << name << "\",\"op\":\""
       << o.op << "\",\"clients\":" << o.clients << ",\"threads\":" << threads
       << ",\"key_size\":" << o.key_size << ",\"value_size\":" << o.value_size
       << ",\"keys\":" << o.keys << ",\"seconds\":" << elapsed << ",\"ops\":" << all.ops
       << ",\"errors\":" << all.errors << ",\"ops_per_s\":" << ops_per_s
       << ",\"p50_us\":" << pct(0.50) << ",\"p99_us\":" << pct(0.99)
       << ",\"p999_us\":" << pct(0.999)
       << ",\"max_us\":" << (all.latencies_us.empty() ? 0 : all.latencies_us.back()) << "}";
  std::cout << json.str() << "\n";
  if (!o.json_path.empty()) std::ofstream(o.json_path, std::ios::app) << json.str() << "\n";
  return all.ops > 0 ? 0 : 1;
}

}  // namespace
}  // namespace dkv::kvload

int main(int argc, char** argv) { return dkv::kvload::Main(argc, argv); }

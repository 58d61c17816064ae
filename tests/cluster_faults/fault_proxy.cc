// FaultProxy: every link, connection and timer lives on the proxy's network
// thread; public methods post their work there and wait for it, so a fault is in
// force when the call returns. A connection is two sockets (the dialer's and the
// one to the target) and two pumps, one per byte direction; a pump reads a chunk,
// drops it if the link is cut, else queues it with the time it may leave and a
// writer sends the queue in order.
#include "cluster_faults/fault_proxy.h"

#include <asio.hpp>

#include <deque>
#include <future>
#include <list>
#include <map>
#include <thread>
#include <vector>

#include "common/assert.h"

namespace dkv::faults {

using asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Link;

// One direction of one proxied connection.
struct Pump {
  struct Chunk {
    SteadyClock::time_point due;
    std::string bytes;
  };
  explicit Pump(asio::io_context& io) : timer(io) {}
  tcp::socket* src = nullptr;
  tcp::socket* dst = nullptr;
  std::vector<char> buf = std::vector<char>(kProxyChunkBytes);
  std::deque<Chunk> queue;
  size_t queued_bytes = 0;
  bool reading = false;
  bool writing = false;
  asio::steady_timer timer;
};

struct Conn : std::enable_shared_from_this<Conn> {
  Conn(asio::io_context& io, Link* l) : down(io), up(io), pumps{Pump(io), Pump(io)}, link(l) {
    pumps[0].src = &down;
    pumps[0].dst = &up;
    pumps[1].src = &up;
    pumps[1].dst = &down;
  }
  tcp::socket down;  // accepted from the dialing node
  tcp::socket up;    // to the target node
  Pump pumps[2];     // 0: down -> up, 1: up -> down
  Link* link;
  bool damaged = false;  // some bytes were dropped: the stream is broken
  bool closed = false;

  void Close() {
    if (closed) return;
    closed = true;
    asio::error_code ec;
    down.close(ec);
    up.close(ec);
    for (Pump& p : pumps) p.timer.cancel();
  }
};

struct Link {
  Link(asio::io_context& io, LinkId i) : id(i), acceptor(io) {}
  LinkId id;
  tcp::acceptor acceptor;
  tcp::endpoint target;
  LinkFaults faults;
  LinkStats stats;
  std::list<std::shared_ptr<Conn>> conns;  // open connections (closed ones are pruned)
};

}  // namespace

class FaultProxy::Impl {
 public:
  Impl() : guard_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}

  ~Impl() {
    RunOnLoop([this] {
      for (auto& [id, link] : links_) {
        asio::error_code ec;
        link->acceptor.close(ec);
        for (auto& c : link->conns) c->Close();
        link->conns.clear();
      }
    });
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs `fn` on the network thread and waits for it.
  template <typename Fn>
  auto RunOnLoop(Fn fn) -> decltype(fn()) {
    std::packaged_task<decltype(fn())()> task(std::move(fn));
    auto done = task.get_future();
    asio::post(io_, [&task] { task(); });
    return done.get();
  }

  Result<uint16_t> AddLink(LinkId id, const std::string& listen_host,
                           const std::string& target_host, uint16_t target_port) {
    return RunOnLoop([&]() -> Result<uint16_t> {
      const std::string where =
          "fault proxy link " + std::to_string(id.first) + "->" + std::to_string(id.second);
      if (links_.count(id) != 0) return Status::InvalidArgument(where, "added twice");
      asio::error_code ec;
      const auto listen_addr = asio::ip::make_address(listen_host, ec);
      if (ec) return Status::InvalidArgument(where, "listen host " + listen_host);
      const auto target_addr = asio::ip::make_address(target_host, ec);
      if (ec) return Status::InvalidArgument(where, "target host " + target_host);
      auto link = std::make_unique<Link>(io_, id);
      link->target = tcp::endpoint(target_addr, target_port);
      const tcp::endpoint ep(listen_addr, 0);
      link->acceptor.open(ep.protocol(), ec);
      if (!ec) link->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      if (!ec) link->acceptor.bind(ep, ec);
      if (!ec) link->acceptor.listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return Status::IOError(where, ec.message());
      const uint16_t port = link->acceptor.local_endpoint().port();
      Link* raw = link.get();
      links_.emplace(id, std::move(link));
      Accept(raw);
      return port;
    });
  }

  void Set(LinkId id, LinkFaults faults) {
    RunOnLoop([&] {
      Link* link = Find(id);
      link->faults = faults;
      if (!faults.cut) CloseDamaged(link);
    });
  }

  void SetAll(uint64_t node, bool cut) {
    RunOnLoop([&] {
      for (auto& [id, link] : links_) {
        if (node != 0 && id.first != node && id.second != node) continue;
        link->faults = LinkFaults{.cut = cut};
        if (!cut) CloseDamaged(link.get());
      }
    });
  }

  LinkStats Stats(LinkId id) {
    return RunOnLoop([&] { return Find(id)->stats; });
  }

 private:
  Link* Find(LinkId id) {
    auto it = links_.find(id);
    DKV_ASSERT(it != links_.end());
    return it->second.get();
  }

  void CloseDamaged(Link* link) {
    for (auto it = link->conns.begin(); it != link->conns.end();) {
      if ((*it)->damaged) {
        (*it)->Close();
        link->stats.connections_closed_on_heal++;
      }
      if ((*it)->closed) {
        it = link->conns.erase(it);
      } else {
        ++it;
      }
    }
  }

  void Accept(Link* link) {
    auto conn = std::make_shared<Conn>(io_, link);
    link->acceptor.async_accept(conn->down, [this, link, conn](const asio::error_code& ec) {
      if (ec == asio::error::operation_aborted || !link->acceptor.is_open()) return;
      if (!ec) {
        link->stats.connections_accepted++;
        link->conns.remove_if([](const std::shared_ptr<Conn>& c) { return c->closed; });
        link->conns.push_back(conn);
        if (link->faults.cut) {
          // A silent partition: the dialer's bytes vanish and no connection to
          // the target is made; Heal closes this connection.
          conn->damaged = true;
          StartRead(conn, 0);
        } else {
          conn->up.async_connect(link->target, [this, conn](const asio::error_code& cec) {
            if (conn->closed) return;
            if (cec) {
              conn->Close();
              return;
            }
            asio::error_code nec;
            conn->up.set_option(tcp::no_delay(true), nec);
            conn->down.set_option(tcp::no_delay(true), nec);
            StartRead(conn, 0);
            StartRead(conn, 1);
          });
        }
      }
      Accept(link);
    });
  }

  void StartRead(const std::shared_ptr<Conn>& conn, int dir) {
    Pump& p = conn->pumps[dir];
    if (conn->closed || p.reading || p.queued_bytes >= kMaxDelayedBytesPerDirection) return;
    p.reading = true;
    p.src->async_read_some(asio::buffer(p.buf),
                           [this, conn, dir](const asio::error_code& ec, size_t n) {
                             Pump& pump = conn->pumps[dir];
                             pump.reading = false;
                             if (conn->closed) return;
                             if (ec) {
                               conn->Close();
                               return;
                             }
                             OnRead(conn, dir, n);
                           });
  }

  void OnRead(const std::shared_ptr<Conn>& conn, int dir, size_t n) {
    Pump& p = conn->pumps[dir];
    Link* link = conn->link;
    if (link->faults.cut || conn->damaged) {
      link->stats.bytes_dropped += n;
      conn->damaged = true;
    } else {
      p.queue.push_back({SteadyClock::now() + link->faults.delay, std::string(p.buf.data(), n)});
      p.queued_bytes += n;
      Write(conn, dir);
    }
    StartRead(conn, dir);
  }

  void Write(const std::shared_ptr<Conn>& conn, int dir) {
    Pump& p = conn->pumps[dir];
    if (conn->closed || p.writing || p.queue.empty()) return;
    Link* link = conn->link;
    if (link->faults.cut) {
      // Cut while these bytes were in flight: they are lost too.
      for (const auto& c : p.queue) link->stats.bytes_dropped += c.bytes.size();
      p.queue.clear();
      p.queued_bytes = 0;
      conn->damaged = true;
      StartRead(conn, dir);
      return;
    }
    p.writing = true;
    const auto due = p.queue.front().due;
    if (due > SteadyClock::now()) {
      p.timer.expires_at(due);
      p.timer.async_wait([this, conn, dir](const asio::error_code&) {
        conn->pumps[dir].writing = false;
        Write(conn, dir);
      });
      return;
    }
    asio::async_write(*p.dst, asio::buffer(p.queue.front().bytes),
                      [this, conn, dir](const asio::error_code& ec, size_t n) {
                        Pump& pump = conn->pumps[dir];
                        pump.writing = false;
                        if (conn->closed) return;
                        if (ec) {
                          conn->Close();
                          return;
                        }
                        DKV_ASSERT(n == pump.queue.front().bytes.size());
                        conn->link->stats.bytes_forwarded += n;
                        pump.queued_bytes -= n;
                        pump.queue.pop_front();
                        Write(conn, dir);
                        StartRead(conn, dir);  // resumes a read paused by a full queue
                      });
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::map<LinkId, std::unique_ptr<Link>> links_;  // network thread only
  std::thread thread_;
};

FaultProxy::FaultProxy() : impl_(std::make_unique<Impl>()) {}
FaultProxy::~FaultProxy() = default;

Result<uint16_t> FaultProxy::AddLink(LinkId link, const std::string& listen_host,
                                     const std::string& target_host, uint16_t target_port) {
  return impl_->AddLink(link, listen_host, target_host, target_port);
}

void FaultProxy::Set(LinkId link, LinkFaults faults) { impl_->Set(link, faults); }

void FaultProxy::Isolate(uint64_t node) {
  DKV_ASSERT(node != 0);
  impl_->SetAll(node, /*cut=*/true);
}

void FaultProxy::HealAll() { impl_->SetAll(0, /*cut=*/false); }

LinkStats FaultProxy::Stats(LinkId link) const { return impl_->Stats(link); }

}  // namespace dkv::faults

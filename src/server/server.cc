#include "server/server.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>

#include "common/assert.h"
#include "common/clock.h"
#include "server/connection.h"
#include "server/resp_parser.h"

namespace dkv::server {

namespace {

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return false;
}

constexpr const char* kDeniedMessage =
    "-DENIED Redis is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from the "
    "loopback interface. If you want to connect from external computers to Redis you may adopt "
    "one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG "
    "SET protected-mode no' from the loopback interface by connecting to Redis from the same host "
    "the server is running, however MAKE SURE Redis is not publicly accessible from internet if "
    "you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just "
    "disable the protected mode by editing the Redis configuration file, and setting the protected "
    "mode option to 'no', and then restarting the server. 3) If you started the server manually "
    "just for testing, restart it with the '--protected-mode no' option. 4) Set up an "
    "authentication password for the default user. NOTE: You only need to do one of the above "
    "things in order for the server to start accepting connections from the outside.\r\n";

// Interval of the housekeeping timer (active expiry, idle clients, everysec).
constexpr int kCronIntervalMs = kActiveExpireIntervalMs;

}  // namespace

Server::Server(ServerConfig config, KvEngine* engine)
    : config_(std::move(config)),
      engine_(engine),
      staging_(engine,
               [this](uint64_t ticket, bool synced, const Status& s) {
                 if (synced) syncs_++;
                 asio::post(io_, [this, ticket, synced, s] { OnCommitted(ticket, synced, s); });
               }),
      keyspace_(&staging_, SystemClock::Default(),
                static_cast<size_t>(std::max<int64_t>(config_.value_cache_size, 0))),
      dispatcher_(&keyspace_, this),
      acceptor_(io_),
      tls_acceptor_(io_),
      signals_(io_, SIGTERM, SIGINT),
      cron_timer_(io_),
      drain_timer_(io_) {
  keyspace_.set_on_change([this](std::string_view key) { watches_.Touch(key); });
}

Server::~Server() { staging_.Stop(); }

Status Server::Run() {
  start_ms_ = keyspace_.NowMs();
  DKV_RETURN_IF_ERROR(keyspace_.Load().WithContext("loading the keyspace"));
  spdlog::info("keyspace loaded: {} keys, {} with a TTL", keyspace_.Size(),
               keyspace_.ExpiresCount());
  DKV_RETURN_IF_ERROR(Listen(&acceptor_, config_.port));
  bound_port_ = acceptor_.local_endpoint().port();
  if (config_.tls_port != 0) {
    DKV_RETURN_IF_ERROR(SetUpTls());
    DKV_RETURN_IF_ERROR(Listen(&tls_acceptor_, config_.tls_port));
    bound_tls_port_ = tls_acceptor_.local_endpoint().port();
  }
  if (config_.admin_port != 0) {
    admin_ = std::make_unique<AdminHttp>(io_, [this] { return Metrics(); });
    DKV_RETURN_IF_ERROR(admin_->Start(config_.bind, config_.admin_port));
  }
  staging_.Start();
  signals_.async_wait([this](const asio::error_code& e, int sig) {
    if (e) return;
    spdlog::info("received signal {}, shutting down", sig);
    Shutdown();
  });
  StartAccept(&acceptor_, false);
  if (config_.tls_port != 0) StartAccept(&tls_acceptor_, true);
  ScheduleCron();
  spdlog::info("distkv-server ready to accept connections on {}:{} (appendfsync {})", config_.bind,
               bound_port_.load(), AppendFsyncName(config_.appendfsync));
  io_.run();
  // Graceful: every staged write is applied and reaches the disk before we
  // return.
  Status s = staging_.Sync();
  if (!s.ok()) spdlog::error("final sync failed: {}", s.ToString());
  staging_.Stop();
  spdlog::info("distkv-server stopped");
  return s;
}

void Server::Stop() {
  asio::post(io_, [this] { Shutdown(); });
}

void Server::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  asio::error_code ec;
  acceptor_.close(ec);
  tls_acceptor_.close(ec);
  if (admin_) admin_->Stop();
  signals_.cancel(ec);
  cron_timer_.cancel();
  // Commit and sync now on the loop, so held replies can be released before
  // closing: a client whose write is durable should hear so.
  uint64_t ticket = staging_.Submit(true);
  Status s = staging_.WaitCommitted(ticket);
  if (s.ok()) OnCommitted(ticket, true, s);
  // Deliver every reply owed, then close: each connection reads nothing more
  // and closes once its output is written; RemoveConnection stops the loop
  // after the last. A client that does not read is cut off by the timer.
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [id, c] : connections_) all.push_back(c);
  for (auto& c : all) c->Drain();
  if (connections_.empty()) {
    io_.stop();
    return;
  }
  drain_timer_.expires_after(std::chrono::milliseconds(kShutdownDrainMs));
  drain_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;
    spdlog::warn("shutdown: closing {} clients that did not read their replies",
                 connections_.size());
    std::vector<std::shared_ptr<Connection>> rest;
    for (auto& [id, c] : connections_) rest.push_back(c);
    for (auto& c : rest) c->Close();
    io_.stop();
  });
}

Status Server::Listen(asio::ip::tcp::acceptor* acceptor, int port) {
  asio::error_code ec;
  auto addr = asio::ip::make_address(config_.bind, ec);
  if (ec) return Status::InvalidArgument("bind " + config_.bind, ec.message());
  asio::ip::tcp::endpoint ep(addr, static_cast<uint16_t>(port));
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::IOError("listen " + config_.bind + ":" + std::to_string(port), ec.message());
  }
  return Status::OK();
}

Status Server::SetUpTls() {
  asio::error_code ec;
  tls_context_.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                               asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                               asio::ssl::context::no_tlsv1_1,
                           ec);
  if (!ec) tls_context_.use_certificate_chain_file(config_.tls_cert_file, ec);
  if (ec) return Status::InvalidArgument("tls-cert-file " + config_.tls_cert_file, ec.message());
  tls_context_.use_private_key_file(config_.tls_key_file, asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("tls-key-file " + config_.tls_key_file, ec.message());
  return Status::OK();
}

void Server::StartAccept(asio::ip::tcp::acceptor* acceptor, bool tls) {
  acceptor->async_accept(
      [this, acceptor, tls](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec) {
          if (ec == asio::error::operation_aborted) return;
          spdlog::warn("accept failed: {}", ec.message());
        } else {
          OnAccept(std::move(socket), tls);
        }
        if (!shutting_down_) StartAccept(acceptor, tls);
      });
}

void Server::OnAccept(asio::ip::tcp::socket socket, bool tls) {
  total_connections_++;
  asio::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) return;
  auto reject = [&](const std::string& msg) {
    rejected_connections_++;
    asio::error_code wec;
    asio::write(socket, asio::buffer(msg), wec);  // small: fits the socket buffer
    socket.close(wec);
  };
  if (static_cast<int>(connections_.size()) >= config_.maxclients) {
    reject("-ERR max number of clients reached\r\n");
    return;
  }
  if (config_.protected_mode && config_.requirepass.empty() && !IsLoopback(remote.address())) {
    reject(kDeniedMessage);
    return;
  }
  int64_t id = next_client_id_++;
  auto conn =
      std::make_shared<Connection>(this, std::move(socket), id, tls ? &tls_context_ : nullptr);
  connections_.emplace(id, conn);
  conn->Start();
}

void Server::RemoveConnection(int64_t id) {
  connections_.erase(id);
  if (shutting_down_ && connections_.empty()) io_.stop();  // drained
}

void Server::WaitForCommit(const std::shared_ptr<Connection>& conn) {
  commit_waiters_.push_back(conn);
}

uint64_t Server::SubmitWrites() {
  if (!commit_posted_) {
    // asio runs posted handlers after those already queued: the clients
    // whose input arrived together all stage their writes first.
    commit_posted_ = true;
    asio::post(io_, [this] { CommitStaged(); });
  }
  return staging_.next_ticket();
}

uint64_t Server::UncommittedTicket() {
  if (config_.appendfsync != AppendFsync::kAlways) return 0;
  if (staging_.HasStaged()) return SubmitWrites();
  const uint64_t last = staging_.next_ticket() - 1;  // the last one submitted
  return last > committed_ticket_ ? last : 0;
}

void Server::CommitStaged() {
  if (config_.appendfsync == AppendFsync::kAlways && commit_yields_ < kMaxCommitYields &&
      writes_applied_ - writes_at_commit_ < kCommitYieldBelowWrites &&
      (commit_yields_ == 0 || writes_applied_ != writes_at_yield_)) {
    // Before paying an fsync, let the loop take one more look at its
    // sockets: re-posted, this runs after the completions of the reactor
    // pass that asio makes first (it queues them behind the handlers already
    // queued), so clients whose command arrived meanwhile join this group.
    // Again while a look found new writes, at most kMaxCommitYields times; a
    // lone client pays one epoll_wait. At -P 1 with 50 clients the groups
    // grew from ~23 to ~32 writes per fsync and durable SETs/s by 8-15%
    // (benchmarks.md, "Commits look once more for input").
    commit_yields_++;
    writes_at_yield_ = writes_applied_;
    asio::post(io_, [this] { CommitStaged(); });
    return;
  }
  commit_yields_ = 0;
  writes_at_commit_ = writes_applied_;
  commit_posted_ = false;
  // Someone waits for next_ticket(): a batch must be queued even when a scan
  // has already committed everything staged (then a sync-only one).
  bool sync = config_.appendfsync == AppendFsync::kAlways || !staging_.HasStaged();
  uint64_t ticket = 0;
  Status s;
  // Commit on the loop itself when the commit thread is idle, synced or not
  // (Redis's model: no loop -> commit thread -> loop hand-off, no third
  // thread competing for the cores with the clients). The replies of a
  // synced group leave as soon as it is durable, before the memtable insert
  // (on_logged), so the clients send their next commands while the loop
  // inserts. Measured (benchmarks.md, "Durable SET at -P 1: commit on the
  // loop"): 83-89k durable SETs/s at -P 1 against 67-75k with the hand-off.
  // The commit thread still takes what is submitted while it is busy (a
  // scan's or shutdown's sync).
  committing_inline_ = true;
  const bool inline_done = staging_.TryCommitInline(sync, &ticket, &s, [this, sync](uint64_t t) {
    submitted_writes_.emplace_back(t, writes_applied_);
    if (sync) syncs_++;
    OnCommitted(t, sync, Status::OK());
  });
  committing_inline_ = false;
  if (inline_done) {
    if (!s.ok()) {
      submitted_writes_.emplace_back(ticket, writes_applied_);
      OnCommitted(ticket, sync, s);
    }
    // Applied now: its overlay entries can go.
    staging_.Retire(staging_.applied_ticket());
  }
  // The connections released during the commit read again.
  auto resume = std::move(resume_reads_);
  resume_reads_.clear();
  for (auto& c : resume) c->ResumeRead();
  if (inline_done) return;
  ticket = staging_.Submit(sync);
  submitted_writes_.emplace_back(ticket, writes_applied_);
}

void Server::ResumeReadAfterCommit(const std::shared_ptr<Connection>& conn) {
  if (committing_inline_) {
    resume_reads_.push_back(conn);
  } else {
    conn->ResumeRead();
  }
}

void Server::OnCommitted(uint64_t ticket, bool synced, const Status& s) {
  if (!s.ok()) {
    // As Redis does with appendfsync always: we cannot promise durability
    // any more, so stop rather than acknowledge writes that may be lost.
    sync_errors_++;
    spdlog::critical("commit failed ({}); exiting so no lost write is acknowledged", s.ToString());
    std::_Exit(1);
  }
  (void)synced;
  // `ticket` is durable; the engine may still be inserting it into its
  // memtable, so only what it has applied leaves the overlay (the rest at
  // the next commit or cron).
  staging_.Retire(staging_.applied_ticket());
  if (ticket <= committed_ticket_) return;
  committed_ticket_ = ticket;
  while (!submitted_writes_.empty() && submitted_writes_.front().first <= ticket) {
    writes_committed_ = submitted_writes_.front().second;
    submitted_writes_.pop_front();
  }
  std::vector<std::shared_ptr<Connection>> still;
  auto waiters = std::move(commit_waiters_);
  commit_waiters_.clear();
  for (auto& c : waiters) {
    if (!c->waiting_for_commit()) continue;
    if (c->held_ticket() <= committed_ticket_) {
      c->OnCommitted();
    } else {
      still.push_back(c);
    }
  }
  // Deduplicate: a connection may have registered several times.
  std::sort(still.begin(), still.end());
  still.erase(std::unique(still.begin(), still.end()), still.end());
  commit_waiters_ = std::move(still);
}

void Server::ScheduleCron() {
  cron_timer_.expires_after(std::chrono::milliseconds(kCronIntervalMs));
  cron_timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || shutting_down_) return;
    Cron();
    ScheduleCron();
  });
}

void Server::Cron() {
  Result<int> expired = keyspace_.ActiveExpireCycle(kActiveExpireKeysPerCycle);
  if (!expired.ok()) spdlog::error("active expiry: {}", expired.status().ToString());
  if (staging_.HasStaged()) SubmitWrites();    // the deletions of expired keys
  staging_.Retire(staging_.applied_ticket());  // applied since the last commit report
  int64_t now = keyspace_.NowMs();
  if (config_.appendfsync == AppendFsync::kEverySec && now - last_everysec_ms_ >= 1000) {
    last_everysec_ms_ = now;
    staging_.Submit(true);
  }
  if (config_.timeout_s > 0) {
    std::vector<std::shared_ptr<Connection>> idle;
    for (auto& [id, c] : connections_) {
      if (now - c->state()->last_interaction_ms > int64_t{config_.timeout_s} * 1000 &&
          !c->state()->in_multi) {
        idle.push_back(c);
      }
    }
    for (auto& c : idle) {
      spdlog::info("closing idle client id={}", c->state()->id);
      c->Close();
    }
  }
}

std::vector<ClientState*> Server::Clients() {
  std::vector<ClientState*> out;
  for (auto& [id, c] : connections_) out.push_back(c->state());
  return out;
}

bool Server::KillClient(int64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  std::shared_ptr<Connection> c = it->second;  // keep alive while closing
  c->state()->killed = true;
  // The caller may be this very client, mid-command: close from the loop.
  asio::post(io_, [c] { c->Close(); });
  return true;
}

bool Server::CheckPassword(std::string_view user, std::string_view password) {
  if (user == "default") {
    return config_.requirepass.empty() || password == config_.requirepass;
  }
  for (const UserEntry& u : config_.users) {
    if (u.name == user) return u.password == password;
  }
  return false;
}

namespace {

struct ConfigParam {
  const char* name;
  bool mutable_;
};

const ConfigParam kConfigParams[] = {
    {"bind", false},
    {"port", false},
    {"dir", false},
    {"appendonly", false},
    {"appendfsync", true},
    {"requirepass", true},
    {"protected-mode", true},
    {"maxclients", true},
    {"timeout", true},
    {"proto-max-bulk-len", true},
    {"client-query-buffer-limit", true},
    {"value-cache-size", true},
    {"loglevel", true},
    {"databases", false},
};

bool ParseYesNo(std::string_view v, bool* out) {
  if (v == "yes") {
    *out = true;
  } else if (v == "no") {
    *out = false;
  } else {
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Server::ConfigGet(std::string_view pattern) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const ConfigParam& p : kConfigParams) {
    if (!GlobMatch(pattern, p.name, true)) continue;
    std::string name = p.name;
    std::string v;
    if (name == "bind") v = config_.bind;
    if (name == "port") v = std::to_string(config_.port);
    if (name == "dir") v = config_.dir;
    if (name == "appendonly") v = "yes";
    if (name == "appendfsync") v = AppendFsyncName(config_.appendfsync);
    if (name == "requirepass") v = config_.requirepass;
    if (name == "protected-mode") v = config_.protected_mode ? "yes" : "no";
    if (name == "maxclients") v = std::to_string(config_.maxclients);
    if (name == "timeout") v = std::to_string(config_.timeout_s);
    if (name == "proto-max-bulk-len") v = std::to_string(config_.proto_max_bulk_len);
    if (name == "client-query-buffer-limit") v = std::to_string(config_.client_query_buffer_limit);
    if (name == "value-cache-size") v = std::to_string(config_.value_cache_size);
    if (name == "loglevel") v = config_.loglevel;
    if (name == "databases") v = "1";
    out.emplace_back(name, v);
  }
  return out;
}

Status Server::ConfigSet(std::string_view name, std::string_view value) {
  const ConfigParam* param = nullptr;
  for (const ConfigParam& p : kConfigParams) {
    if (name == p.name) param = &p;
  }
  if (param == nullptr) return Status::NotFound("config", "unknown option");
  if (!param->mutable_) return Status::InvalidArgument("can't set immutable config");
  int64_t n = 0;
  bool numeric = ParseInt64Strict(value, &n);
  if (name == "appendfsync") {
    AppendFsync a;
    if (!ParseAppendFsync(value, &a))
      return Status::InvalidArgument(
          "argument(s) must be one of the following: always, everysec, no");
    config_.appendfsync = a;
  } else if (name == "requirepass") {
    config_.requirepass = std::string(value);
  } else if (name == "protected-mode") {
    if (!ParseYesNo(value, &config_.protected_mode))
      return Status::InvalidArgument("argument must be 'yes' or 'no'");
  } else if (name == "maxclients") {
    if (!numeric || n < 1 || n > 1000000)
      return Status::InvalidArgument("argument must be between 1 and 1000000 inclusive");
    config_.maxclients = static_cast<int>(n);
  } else if (name == "timeout") {
    if (!numeric || n < 0 || n > INT32_MAX)
      return Status::InvalidArgument("argument must be between 0 and 2147483647 inclusive");
    config_.timeout_s = static_cast<int>(n);
  } else if (name == "proto-max-bulk-len") {
    if (!numeric || n < 1024 * 1024)
      return Status::InvalidArgument("argument must be a memory value of at least 1mb");
    config_.proto_max_bulk_len = n;
  } else if (name == "client-query-buffer-limit") {
    if (!numeric || n < 1024 * 1024)
      return Status::InvalidArgument("argument must be a memory value of at least 1mb");
    config_.client_query_buffer_limit = n;
  } else if (name == "value-cache-size") {
    if (!numeric || n < 0) return Status::InvalidArgument("argument must be a memory value");
    config_.value_cache_size = n;
    keyspace_.SetValueCacheBytes(static_cast<size_t>(n));
  } else if (name == "loglevel") {
    auto level = spdlog::level::from_str(std::string(value));
    if (level == spdlog::level::off && value != "off")
      return Status::InvalidArgument("bad log level");
    spdlog::set_level(level);
    config_.loglevel = std::string(value);
  }
  return Status::OK();
}

std::string Server::Info(std::string_view section) {
  bool all = section.empty() || section == "default" || section == "all" || section == "everything";
  std::string out;
  auto add = [&](std::string_view name, const std::string& body) {
    if (!all && section != name) return;
    if (!out.empty()) out += "\r\n";
    std::string title(name);
    title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    out += "# " + title + "\r\n" + body;
  };
  int64_t now = keyspace_.NowMs();
  add("server",
      "redis_version:7.0.0\r\ndistkv_version:0.1.0\r\nredis_mode:standalone\r\n"
      "process_id:" +
          std::to_string(::getpid()) + "\r\ntcp_port:" + std::to_string(bound_port_.load()) +
          "\r\nuptime_in_seconds:" + std::to_string((now - start_ms_) / 1000) +
          "\r\nconfig_file:" + config_.config_file + "\r\n");
  add("clients", "connected_clients:" + std::to_string(connections_.size()) +
                     "\r\nmaxclients:" + std::to_string(config_.maxclients) + "\r\n");
  add("memory", "used_memory:" + std::to_string(engine_->MemoryUsage()) +
                    "\r\nvalue_cache_size:" + std::to_string(keyspace_.value_cache_capacity()) +
                    "\r\nvalue_cache_used:" + std::to_string(keyspace_.value_cache_bytes()) +
                    "\r\nvalue_cache_keys:" + std::to_string(keyspace_.cached_values()) + "\r\n");
  add("persistence", "loading:0\r\naof_enabled:1\r\nappendfsync:" +
                         std::string(AppendFsyncName(config_.appendfsync)) +
                         "\r\nwrites_applied:" + std::to_string(writes_applied_) +
                         "\r\nwrites_synced:" + std::to_string(writes_committed_) +
                         "\r\nsyncs:" + std::to_string(syncs_.load()) + "\r\n");
  add("stats",
      "total_connections_received:" + std::to_string(total_connections_) +
          "\r\ntotal_commands_processed:" + std::to_string(dispatcher_.commands_processed()) +
          "\r\nrejected_connections:" + std::to_string(rejected_connections_) +
          "\r\nexpired_keys:" + std::to_string(keyspace_.expired_keys()) +
          "\r\nkeyspace_hits:" + std::to_string(keyspace_.hits()) +
          "\r\nkeyspace_misses:" + std::to_string(keyspace_.misses()) +
          "\r\nvalue_cache_hits:" + std::to_string(keyspace_.value_cache_hits()) +
          "\r\nvalue_cache_misses:" + std::to_string(keyspace_.value_cache_misses()) + "\r\n");
  std::string ks;
  if (keyspace_.Size() > 0) {
    ks = "db0:keys=" + std::to_string(keyspace_.Size()) +
         ",expires=" + std::to_string(keyspace_.ExpiresCount()) + ",avg_ttl=0\r\n";
  }
  add("keyspace", ks);
  return out;
}

std::string Server::Metrics() {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, int64_t value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(value) + "\n";
  };
  metric("distkv_connected_clients", "gauge", "Clients connected now.",
         static_cast<int64_t>(connections_.size()));
  metric("distkv_connections_received_total", "counter", "Connections accepted.",
         total_connections_);
  metric("distkv_rejected_connections_total", "counter",
         "Connections refused (maxclients, protected mode).", rejected_connections_);
  metric("distkv_commands_processed_total", "counter", "Commands run or queued.",
         dispatcher_.commands_processed());
  metric("distkv_keys", "gauge", "Keys in db 0.", keyspace_.Size());
  metric("distkv_engine_memory_bytes", "gauge", "Approximate engine memory use.",
         engine_->MemoryUsage());
  metric("distkv_keys_with_expiry", "gauge", "Keys with a TTL.", keyspace_.ExpiresCount());
  metric("distkv_expired_keys_total", "counter", "Keys removed by expiry.",
         keyspace_.expired_keys());
  metric("distkv_keyspace_hits_total", "counter", "Lookups that found a key.", keyspace_.hits());
  metric("distkv_keyspace_misses_total", "counter", "Lookups that found nothing.",
         keyspace_.misses());
  metric("distkv_value_cache_hits_total", "counter",
         "Point reads served by the value cache (no engine read).", keyspace_.value_cache_hits());
  metric("distkv_value_cache_misses_total", "counter",
         "Point reads the value cache did not hold (an engine read or a known absence).",
         keyspace_.value_cache_misses());
  metric("distkv_value_cache_bytes", "gauge", "Bytes the value cache charges now.",
         static_cast<int64_t>(keyspace_.value_cache_bytes()));
  metric("distkv_writes_applied_total", "counter", "Write commands run.",
         static_cast<int64_t>(writes_applied_));
  metric("distkv_writes_synced_total", "counter",
         "Write commands whose commit (and sync, under appendfsync always) is done.",
         static_cast<int64_t>(writes_committed_));
  metric("distkv_wal_syncs_total", "counter", "Group-commit syncs of the engine WAL.",
         syncs_.load());
  return out;
}

}  // namespace dkv::server

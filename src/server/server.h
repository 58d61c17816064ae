// Server: the real runtime of one node — an asio TCP server speaking RESP on
// one event-loop thread, over a Keyspace on a KvEngine.
//
// Commands run one at a time on the event loop (so each command and each
// MULTI/EXEC is atomic). Their writes are staged (StagingEngine) and handed
// after each client's round to one commit thread, which applies all writes
// handed over meanwhile as one engine write and, with appendfsync always,
// syncs it; a connection's replies are held until the commit covering its
// writes is done, so many clients share each write and fsync (group commit).
// Owned by main(); Run() blocks until SIGTERM/SIGINT or Stop(). Public
// methods other than Stop() are for the event-loop thread.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <asio/ssl.hpp>

#include "server/admin_http.h"
#include "server/command_table.h"
#include "server/config.h"
#include "server/keyspace.h"
#include "server/staging_engine.h"
#include "server/watch_table.h"

namespace dkv::server {

class Connection;

class Server final : public ServerApi {
 public:
  // The engine must outlive the server.
  Server(ServerConfig config, KvEngine* engine);
  ~Server() override;

  // Loads the keyspace, binds, and serves until stopped. Returns the error
  // that stopped startup, or OK after a graceful shutdown (final sync done).
  Status Run();
  // Thread-safe: asks the event loop to shut down gracefully.
  void Stop();
  // The bound port (useful with port 0). Valid once Run() is serving.
  int bound_port() const { return bound_port_.load(); }
  int bound_tls_port() const { return bound_tls_port_.load(); }
  // Prometheus text exposition of the counters (served on /metrics).
  std::string Metrics();

  // ServerApi.
  std::vector<ClientState*> Clients() override;
  bool KillClient(int64_t id) override;
  std::vector<std::pair<std::string, std::string>> ConfigGet(std::string_view pattern) override;
  Status ConfigSet(std::string_view name, std::string_view value) override;
  std::string Info(std::string_view section) override;
  bool CheckPassword(std::string_view user, std::string_view password) override;
  bool NoPasswordConfigured() override { return config_.requirepass.empty(); }
  void Watch(ClientState* client, const std::string& key) override { watches_.Watch(client, key); }
  void UnwatchAll(ClientState* client) override { watches_.UnwatchAll(client); }

  // For connections.
  const ServerConfig& config() const { return config_; }
  Keyspace* keyspace() { return &keyspace_; }
  Dispatcher* dispatcher() { return &dispatcher_; }
  // Counts a command that changed the keyspace (for INFO).
  void NoteWrite() { writes_applied_++; }
  // Asks for the writes staged so far to be committed once the loop has run
  // the handlers that are ready (so every client served in this pass of the
  // loop shares one commit); returns the ticket that will cover them
  // (applied, and synced under appendfsync always).
  uint64_t SubmitWrites();
  // Every ticket up to this one is committed.
  uint64_t committed_ticket() const { return committed_ticket_; }
  // Under appendfsync always: the ticket a reply that may show the keyspace
  // must wait for, so that no client sees a write before it is durable (a
  // read could otherwise return a value that a crash then loses, one that
  // was never acknowledged); 0 if every write is committed, and always 0
  // under everysec and no, whose writes are acknowledged before their sync.
  // Commits anything staged that is not submitted yet.
  uint64_t UncommittedTicket();
  // The connection holds replies until committed_ticket() >= its held ticket.
  void WaitForCommit(const std::shared_ptr<Connection>& conn);
  // A connection whose replies a commit released reads again: now, or, while
  // the loop commits inline, once that commit is applied (after the memtable
  // insert), when its client has likely sent its next command.
  void ResumeReadAfterCommit(const std::shared_ptr<Connection>& conn);
  void RemoveConnection(int64_t id);
  asio::io_context& io() { return io_; }

 private:
  void StartAccept(asio::ip::tcp::acceptor* acceptor, bool tls);
  void OnAccept(asio::ip::tcp::socket socket, bool tls);
  Status Listen(asio::ip::tcp::acceptor* acceptor, int port);
  Status SetUpTls();
  void ScheduleCron();
  void Cron();
  void OnCommitted(uint64_t ticket, bool synced, const Status& s);
  // Hands the staged writes to the StagingEngine (see SubmitWrites).
  void CommitStaged();
  void Shutdown();

  ServerConfig config_;
  KvEngine* engine_;
  StagingEngine staging_;  // in front of engine_; the keyspace writes here
  Keyspace keyspace_;
  WatchTable watches_;
  Dispatcher dispatcher_;

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::acceptor tls_acceptor_;
  asio::ssl::context tls_context_{asio::ssl::context::tls_server};
  std::unique_ptr<AdminHttp> admin_;
  std::atomic<int> bound_tls_port_{0};
  asio::signal_set signals_;
  asio::steady_timer cron_timer_;
  asio::steady_timer drain_timer_;  // bounds the shutdown's reply draining
  std::atomic<int> bound_port_{0};
  std::map<int64_t, std::shared_ptr<Connection>> connections_;
  std::vector<std::shared_ptr<Connection>> commit_waiters_;
  bool committing_inline_ = false;
  // CommitStaged's look for more input before an fsync (see there).
  static constexpr int kMaxCommitYields = 2;
  // Only small groups look again: a big one (pipelines) already amortizes
  // its fsync, and its clients would only wait longer.
  static constexpr uint64_t kCommitYieldBelowWrites = 64;
  int commit_yields_ = 0;
  uint64_t writes_at_yield_ = 0;
  uint64_t writes_at_commit_ = 0;
  std::vector<std::shared_ptr<Connection>> resume_reads_;  // after the inline commit
  int64_t next_client_id_ = 1;
  int64_t start_ms_ = 0;
  int64_t last_everysec_ms_ = 0;
  bool shutting_down_ = false;

  // Group commit (event-loop thread only): tickets of StagingEngine::Submit;
  // submitted_writes_ maps each ticket to the write-command count it covers.
  uint64_t committed_ticket_ = 0;
  bool commit_posted_ = false;  // a CommitStaged is queued on the loop
  uint64_t writes_applied_ = 0;
  uint64_t writes_committed_ = 0;
  std::deque<std::pair<uint64_t, uint64_t>> submitted_writes_;  // (ticket, writes)

  // Stats for INFO and /metrics.
  int64_t total_connections_ = 0;
  int64_t rejected_connections_ = 0;
  std::atomic<int64_t> syncs_{0};
  std::atomic<int64_t> sync_errors_{0};
};

}  // namespace dkv::server

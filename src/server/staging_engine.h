// StagingEngine: a KvEngine in front of the real one that takes writes off
// the event loop. The loop stages writes (visible at once to its own reads
// through an overlay) and hands each round's writes to one commit thread,
// which applies everything handed over since its last commit as one engine
// write and, when asked, syncs it (group commit across clients).
//
// Why: with the loop calling the storage engine directly, every write queued
// behind a sync in the engine's writer queue, so the loop stalled for each
// fsync. Here it never waits for the disk; a connection holds its replies
// until the ticket covering its writes is committed (server.cc).
// Owned by the Server. Get/Apply/Scan/Sync/Submit/Retire are for the
// event-loop thread only; the commit thread is internal. A failed commit is
// reported to the callback, which must not acknowledge later writes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/kv_engine.h"

namespace dkv::server {

class StagingEngine final : public KvEngine {
 public:
  // Called on the commit thread after each commit with its ticket, whether
  // it synced, and its status.
  using CommittedFn = std::function<void(uint64_t ticket, bool synced, const Status& s)>;

  // `base` must outlive this object.
  StagingEngine(KvEngine* base, CommittedFn on_committed);
  ~StagingEngine() override;

  // Starts the commit thread. Before Start, Submit/Sync/Scan apply inline.
  void Start();
  // Commits everything submitted, then stops the commit thread. Idempotent.
  void Stop();

  // KvEngine. Get sees staged and in-flight writes first. Apply stages (never
  // fails; failures surface at commit). Scan first waits until everything
  // staged is applied. Sync submits what is staged and waits for a synced
  // commit covering it.
  Status Get(std::string_view key, std::string* value) override;
  Status Apply(const std::vector<KvWrite>& writes) override;
  Status ApplyMoved(std::vector<KvWrite>&& writes) override;
  Status Sync() override;
  Status Scan(std::string_view start, std::string_view limit, size_t max,
              std::vector<std::pair<std::string, std::string>>* out) override;
  std::string Stats() override { return base_->Stats(); }
  int64_t MemoryUsage() override { return base_->MemoryUsage(); }

  // Hands the staged writes (possibly none) to the commit thread; the
  // returned ticket is committed — applied, and synced if `sync` — once the
  // callback reports a ticket >= it. With nothing staged and !sync, returns
  // the last ticket handed over without queueing anything.
  uint64_t Submit(bool sync);
  // True if writes are staged and not yet submitted.
  bool HasStaged() const { return !staging_.empty(); }
  // The ticket the next Submit that queues a batch will return.
  uint64_t next_ticket() const { return next_ticket_; }
  // Forgets overlay entries whose writes are committed up to `ticket`.
  void Retire(uint64_t ticket);
  // Blocks until `ticket` is committed; returns the first commit failure.
  Status WaitCommitted(uint64_t ticket);

 private:
  struct Entry {
    std::optional<std::string> value;  // nullopt: deleted
    uint64_t ticket;                   // the ticket whose commit applies it
  };
  struct Batch {
    uint64_t ticket;
    bool sync;
    std::shared_ptr<const std::vector<KvWrite>> writes;
  };
  void CommitLoop();
  // Applies (and syncs if any batch asks) one group of batches on the
  // calling thread; *synced says whether it synced.
  Status Commit(const std::vector<Batch>& group, bool* synced);

  KvEngine* base_;
  CommittedFn on_committed_;

  // Event-loop thread only.
  std::unordered_map<std::string, Entry> overlay_;
  std::vector<KvWrite> staging_;
  std::deque<Batch> unretired_;  // submitted, overlay entries not yet retired
  uint64_t next_ticket_ = 1;     // the ticket of the next Submit
  bool started_ = false;

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<Batch> queue_;  // GUARDED_BY(mu_)
  uint64_t committed_ = 0;    // GUARDED_BY(mu_)
  Status failure_;            // GUARDED_BY(mu_)
  bool stop_ = false;         // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace dkv::server

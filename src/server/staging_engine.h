// StagingEngine: a KvEngine in front of the real one that takes writes off
// the event loop. The loop stages writes (visible at once to its own reads
// through an overlay) and hands each round's writes to one commit thread,
// which applies everything handed over since its last commit as one engine
// write and, when asked, syncs it in the same write (group commit across
// clients).
//
// Why: with the loop calling the storage engine directly, every write queued
// behind a sync in the engine's writer queue, so the loop stalled for each
// fsync. Here it never waits for the disk; a connection holds its replies
// until the ticket covering its writes is committed (server.cc).
// A staged write is encoded once, straight into the storage::WriteBatch the
// engine will write; the overlay is a flat table of (key hash -> record in
// that batch), so staging a put allocates nothing in the steady state.
// Owned by the Server. Get/Apply/Put/Delete/Scan/Sync/Submit/Retire are for
// the event-loop thread only; the commit thread is internal. A failed commit
// is reported to the callback, which must not acknowledge later writes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "server/kv_engine.h"
#include "storage/write_batch.h"

namespace dkv::server {

class StagingEngine final : public KvEngine {
 public:
  // Called on the commit thread once per commit with its ticket, whether it
  // synced, and its status: with OK as soon as the commit is durable (in the
  // WAL, and synced if it syncs) — possibly before the engine's Get sees it,
  // so the overlay keeps serving it until applied_ticket() covers it — or
  // with the failure once the commit has failed.
  using CommittedFn = std::function<void(uint64_t ticket, bool synced, const Status& s)>;

  // `base` must outlive this object.
  StagingEngine(KvEngine* base, CommittedFn on_committed);
  ~StagingEngine() override;

  // Starts the commit thread. Before Start, Submit/Sync/Scan apply inline.
  void Start();
  // Commits everything submitted, then stops the commit thread. Idempotent.
  void Stop();

  // KvEngine. Get sees staged and in-flight writes first. Apply/Put/Delete
  // stage (they never fail; failures surface at commit). Scan first waits
  // until everything staged is applied. Sync submits what is staged and
  // waits for a synced commit covering it. Write stages the batch's records.
  Status Get(std::string_view key, std::string* value) override;
  Status Apply(const std::vector<KvWrite>& writes) override;
  Status Put(std::string_view key, std::string_view value) override;
  Status Delete(std::string_view key) override;
  Status Write(const storage::WriteBatch& batch, bool sync) override;
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
  // If the commit thread is idle (nothing queued, nothing committing) and
  // writes are staged, commits them on the calling thread now — applied, and
  // synced if `sync` — and returns true with the ticket and the commit's
  // status, without calling the callback. Otherwise does nothing and returns
  // false (then Submit hands them to the commit thread). Tickets stay in
  // order: an inline commit never overtakes a queued one.
  // `on_logged` (may be empty) is called with the ticket, on the calling
  // thread, as soon as the commit is durable (in the WAL, and synced if
  // `sync`), before the engine's memtable insert: the overlay keeps serving
  // those writes until applied_ticket() covers them, as for the callback.
  bool TryCommitInline(bool sync, uint64_t* ticket, Status* status,
                       const std::function<void(uint64_t ticket)>& on_logged = {});
  // True if writes are staged and not yet submitted.
  bool HasStaged() const { return staging_ != nullptr && staging_->batch.Count() > 0; }
  // The ticket the next Submit that queues a batch will return.
  uint64_t next_ticket() const { return next_ticket_; }
  // Every ticket up to this one is applied: readable through the engine
  // (so retirable) and reported. Any thread.
  uint64_t applied_ticket();
  // Forgets overlay entries whose writes are committed up to `ticket`.
  // REQUIRES: ticket <= applied_ticket().
  void Retire(uint64_t ticket);
  // Blocks until `ticket` is applied; returns the first commit failure.
  Status WaitCommitted(uint64_t ticket);

  // Writes staged but not yet retired (the overlay's entries), for tests.
  size_t overlay_size() const { return overlay_size_; }

 private:
  // One ticket's writes, encoded once. Owned by the loop (staging_,
  // unretired_) and, while it commits, shared with the commit thread, which
  // only reads `batch`.
  struct Staged {
    uint64_t ticket = 0;
    bool sync = false;
    storage::WriteBatch batch;
    std::vector<uint64_t> hashes;  // Hash64 of each record's key, in order
  };
  // Overlay slot: the newest staged record of one key. batch == nullptr: empty.
  struct Slot {
    uint64_t hash = 0;
    Staged* batch = nullptr;
    uint32_t offset = 0;  // of the record in batch->batch.Contents()
  };
  static constexpr size_t kNone = ~size_t{0};

  // The batch the loop stages into now (created on first use).
  Staged* StagingBatch();
  // Appends one record to the staging batch and points the overlay at it.
  void Stage(bool is_delete, std::string_view key, std::string_view value);
  // Slot of `key` in the overlay, or kNone.
  size_t FindSlot(uint64_t h, std::string_view key) const;
  // Empty slot for hash h (linear probing). REQUIRES: a free slot exists.
  size_t EmptySlotFor(uint64_t h) const;
  void EraseSlot(size_t i);
  void GrowOverlay();
  void Recycle(std::shared_ptr<Staged> b);

  void CommitLoop();
  // Applies (and syncs if any batch asks) one group of batches on the
  // calling thread; *synced says whether it synced.
  // on_logged (may be null): called as soon as the group is durable.
  Status Commit(const std::vector<std::shared_ptr<const Staged>>& group, bool* synced,
                const std::function<void(bool synced)>* on_logged);

  KvEngine* base_;
  CommittedFn on_committed_;

  // Event-loop thread only.
  std::vector<Slot> overlay_;  // power-of-two size, at most half full
  size_t overlay_size_ = 0;
  std::shared_ptr<Staged> staging_;
  std::deque<std::shared_ptr<Staged>> unretired_;  // submitted, not yet retired
  std::vector<std::shared_ptr<Staged>> spare_;     // retired batches to reuse
  uint64_t next_ticket_ = 1;                       // the ticket of the next Submit
  bool started_ = false;

  // Commit thread only: the concatenation of a group of several batches.
  storage::WriteBatch group_batch_;

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<std::shared_ptr<const Staged>> queue_;  // GUARDED_BY(mu_)
  uint64_t committed_ = 0;                            // GUARDED_BY(mu_): applied
  Status failure_;                                    // GUARDED_BY(mu_)
  bool stop_ = false;                                 // GUARDED_BY(mu_)
  bool committing_ = false;                           // GUARDED_BY(mu_): a group is out
  std::thread thread_;
};

}  // namespace dkv::server

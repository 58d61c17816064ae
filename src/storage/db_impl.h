// DBImpl: the LSM engine behind DB (db.h): write path with group commit, the
// memtable pair, the background thread that flushes and compacts, recovery,
// snapshots, checkpoints and properties.
//
// Concurrency: one mutex (mu_) guards the engine's state. Writers queue in
// writers_; the front one (the leader) merges queued batches, then appends one
// WAL record, syncs and inserts into the memtable WITHOUT the mutex — only the
// leader touches log_ and inserts, so no one else can. Readers take refs on
// the memtables and the current Version under the mutex and read without it.
// One std::thread owned by the DB does all flushing and compaction and is
// joined on close. Owned by the DB engineer; safe for concurrent use.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/thread_annotations.h"
#include "storage/db.h"
#include "storage/dbformat.h"
#include "storage/filter_policy.h"
#include "storage/version_set.h"

namespace dkv::storage {

class MemTable;
class TableCache;
class WalWriter;

class DBImpl final : public DB {
 public:
  DBImpl(const Options& options, const std::string& dbname);
  ~DBImpl() override;

  Status Put(const WriteOptions& options, std::string_view key, std::string_view value) override;
  Status Delete(const WriteOptions& options, std::string_view key) override;
  Status Write(const WriteOptions& options, const WriteBatch& batch) override;
  Status Get(const ReadOptions& options, std::string_view key, std::string* value) override;
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) override;
  const Snapshot* GetSnapshot() override;
  void ReleaseSnapshot(const Snapshot* snapshot) override;
  Status CreateCheckpoint(const std::string& dir) override;
  Status CompactRange(const std::string_view* begin, const std::string_view* end) override;
  Status Flush() override;
  Status SyncWal() override;
  bool GetProperty(std::string_view name, std::string* value) override;

 private:
  friend class DB;
  struct Writer;
  struct CompactionState;
  struct ManualCompaction;

  class SnapshotImpl final : public Snapshot {
   public:
    explicit SnapshotImpl(SequenceNumber seq) : seq_(seq) {}
    uint64_t sequence() const override { return seq_; }
    const SequenceNumber seq_;
    std::list<SnapshotImpl*>::iterator pos;
  };

  // A WAL file made ready ahead of time: zero-filled or recycled, synced,
  // its directory entry durable, open for overwrite.
  struct PreparedLog {
    uint64_t number = 0;
    std::unique_ptr<WritableFile> file;
    uint64_t capacity = 0;  // bytes that can be overwritten without growing it
  };

  struct LevelStats {
    int64_t micros = 0;
    int64_t bytes_read = 0;
    int64_t bytes_written = 0;
    int64_t count = 0;
  };

  // ---- open and recovery (db_impl.cc)
  Status NewDB();
  Status Recover(VersionEdit* edit) REQUIRES(mu_);
  Status RecoverLogFile(uint64_t log_number, VersionEdit* edit, SequenceNumber* max_sequence)
      REQUIRES(mu_);
  Status NewLogFile() REQUIRES(mu_);

  // ---- write path (db_impl.cc)
  Status WriteImpl(const WriteOptions& options, const WriteBatch* batch);
  Status MakeRoomForWrite(bool force) REQUIRES(mu_);
  // The leader (front of writers_) of a synced write waits briefly for the
  // writers the last group saw to queue again. REQUIRES: mu_ held.
  void WaitForGroup() REQUIRES(mu_);
  const WriteBatch* BuildBatchGroup(Writer** last_writer) REQUIRES(mu_);
  void RecordBackgroundError(const Status& s) REQUIRES(mu_);
  SequenceNumber SmallestSnapshot() const REQUIRES(mu_);

  // ---- background work (db_compaction.cc)
  void BackgroundLoop();
  bool HasBackgroundWork() const REQUIRES(mu_);
  void BackgroundWork() REQUIRES(mu_);
  void WakeBackground() REQUIRES(mu_);
  Status CompactMemTable() REQUIRES(mu_);
  Status WriteLevel0Table(MemTable* mem, VersionEdit* edit, Version* base) REQUIRES(mu_);
  Status BuildTable(Iterator* iter, FileMetaData* meta) EXCLUDES(mu_);
  Status DoCompaction(Compaction* c) REQUIRES(mu_);
  Status DoCompactionWork(CompactionState* compact) REQUIRES(mu_);
  Status OpenCompactionOutputFile(CompactionState* compact) EXCLUDES(mu_);
  Status FinishCompactionOutputFile(CompactionState* compact) EXCLUDES(mu_);
  Status InstallCompactionResults(CompactionState* compact) REQUIRES(mu_);
  void DeleteObsoleteFiles() REQUIRES(mu_);
  void PrepareNextLog() REQUIRES(mu_);
  // Makes log `number` ready for overwrite (renaming log `recycle`, or
  // zero-filling zero_bytes), durable in the directory. Does I/O; call
  // without the mutex except during Open.
  Status MakeOverwritableLog(uint64_t number, std::optional<uint64_t> recycle, size_t zero_bytes,
                             PreparedLog* out);
  Status WaitForImmutableFlush() EXCLUDES(mu_);

  std::string DebugStats() REQUIRES(mu_);
  // Appends one line to the human-readable LOG file (best effort: errors are
  // ignored, the LOG is for operators, not for correctness).
  void InfoLog(const char* format, ...) __attribute__((format(printf, 2, 3)));

  // Constant after construction.
  const Options options_;  // sanitized
  Env* const env_;
  const InternalKeyComparator icmp_;
  std::unique_ptr<const FilterPolicy> user_filter_policy_;
  std::unique_ptr<const FilterPolicy> filter_policy_;  // on internal keys
  const std::string dbname_;
  std::unique_ptr<TableCache> table_cache_;
  std::unique_ptr<FileLock> db_lock_;
  Mutex info_log_mu_;
  std::unique_ptr<WritableFile> info_log_ GUARDED_BY(info_log_mu_);

  Mutex mu_;
  CondVar bg_done_cv_;  // background made progress (flush/compaction/error)
  CondVar bg_work_cv_;  // there may be work for the background thread
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> has_imm_{false};
  MemTable* mem_ GUARDED_BY(mu_) = nullptr;
  MemTable* imm_ GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<WritableFile> logfile_;  // written by the write leader only
  uint64_t logfile_number_ GUARDED_BY(mu_) = 0;
  // The log mem_ started in: logs below it hold only flushed or imm_ data.
  // (The WAL file can change under one memtable: see WriteImpl.)
  uint64_t mem_log_number_ GUARDED_BY(mu_) = 0;
  // Bytes of log_'s file that are overwritten rather than appended (0 for
  // a plain appending log). Past it, the leader moves to a prepared log.
  uint64_t log_capacity_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<WalWriter> log_;  // written by the write leader only
  bool log_dirty_ = false;          // log_ has unsynced records (leader only)
  PreparedLog prepared_log_ GUARDED_BY(mu_);
  std::vector<uint64_t> recyclable_logs_ GUARDED_BY(mu_);
  bool prepare_log_failed_ GUARDED_BY(mu_) = false;  // retried after the next switch
  // The current log is half used (or appends): prepare the next one. Not
  // earlier, so zero-filling does not compete with a fresh DB's first syncs.
  bool want_prepared_log_ GUARDED_BY(mu_) = false;
  // A compaction is between picking its inputs and installing its outputs;
  // a flush then goes to level 0 (a deeper level could overlap the outputs).
  bool compaction_running_ GUARDED_BY(mu_) = false;
  std::deque<Writer*> writers_ GUARDED_BY(mu_);
  // Group commit wait (Options::max_group_commit_wait_micros): a leader waiting
  // for more synced writers to queue, the concurrency the last synced group
  // saw (its members plus those that queued during its fsync), and a moving
  // average of the fsync time.
  CondVar group_cv_;
  bool leader_waiting_ GUARDED_BY(mu_) = false;
  size_t sync_concurrency_ GUARDED_BY(mu_) = 1;
  int64_t sync_micros_avg_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<WriteBatch> group_batch_ GUARDED_BY(mu_);
  // The group's WriteOptions::on_logged callbacks; like group_batch_, only
  // the leader touches it (also after unlocking).
  std::vector<const std::function<void()>*> logged_callbacks_ GUARDED_BY(mu_);
  std::list<SnapshotImpl*> snapshots_ GUARDED_BY(mu_);  // oldest first
  std::set<uint64_t> pending_outputs_ GUARDED_BY(mu_);  // files being written
  ManualCompaction* manual_compaction_ GUARDED_BY(mu_) = nullptr;
  Status bg_error_ GUARDED_BY(mu_);
  std::vector<std::string> recovery_warnings_ GUARDED_BY(mu_);
  LevelStats stats_[kNumLevels] GUARDED_BY(mu_);
  int64_t write_delays_ GUARDED_BY(mu_) = 0;
  int64_t write_stops_ GUARDED_BY(mu_) = 0;
  std::unique_ptr<VersionSet> versions_ GUARDED_BY(mu_);
  std::thread bg_thread_;
};

// Options with nullptr/zero fields replaced by their defaults and numbers
// clipped to sane ranges.
Options SanitizeOptions(const Options& src);

}  // namespace dkv::storage

#include "storage/db_impl.h"

#include <algorithm>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "storage/cache.h"
#include "storage/db_iter.h"
#include "storage/filename.h"
#include "storage/limits.h"
#include "storage/memtable.h"
#include "storage/merging_iterator.h"
#include "storage/table_cache.h"
#include "storage/wal_reader.h"
#include "storage/wal_writer.h"
#include "storage/write_batch_internal.h"

namespace dkv::storage {

namespace {
// Table readers are cheap to keep but hold a descriptor each; leave some of
// the process's descriptors for WALs, manifests and the server itself.
constexpr int kNumNonTableCacheFiles = 10;
constexpr size_t kDefaultBlockCacheBytes = 8 << 20;

template <typename T>
void ClipToRange(T* v, T lo, T hi) {
  if (*v < lo) *v = lo;
  if (*v > hi) *v = hi;
}
}  // namespace

struct DBImpl::Writer {
  explicit Writer(Mutex* mu) : cv(mu) {}
  const WriteBatch* batch = nullptr;
  bool sync = false;
  const std::function<void()>* on_logged = nullptr;  // WriteOptions::on_logged
  bool done = false;
  Status status;
  CondVar cv;
};

Options SanitizeOptions(const Options& src) {
  Options o = src;
  if (o.env == nullptr) o.env = Env::Posix();
  ClipToRange(&o.max_open_files, 64 + kNumNonTableCacheFiles, 50000);
  ClipToRange<size_t>(&o.write_buffer_size, 4 << 10, size_t{1} << 30);
  ClipToRange<size_t>(&o.block_size, 1 << 10, 4 << 20);
  ClipToRange<size_t>(&o.target_file_size, 4 << 10, size_t{1} << 30);
  ClipToRange(&o.level0_compaction_trigger, 2, 1000);
  if (o.level0_slowdown_writes_trigger < o.level0_compaction_trigger) {
    o.level0_slowdown_writes_trigger = o.level0_compaction_trigger;
  }
  if (o.level0_stop_writes_trigger <= o.level0_slowdown_writes_trigger) {
    o.level0_stop_writes_trigger = o.level0_slowdown_writes_trigger + 1;
  }
  ClipToRange(&o.level_size_multiplier, 2, 100);
  ClipToRange<int64_t>(&o.max_group_commit_wait_micros, 0, 10000);
  if (o.block_cache == nullptr) o.block_cache = NewLRUCache(kDefaultBlockCacheBytes);
  return o;
}

DBImpl::DBImpl(const Options& raw_options, const std::string& dbname)
    : options_(SanitizeOptions(raw_options)),
      env_(options_.env),
      icmp_(BytewiseComparator()),
      dbname_(dbname),
      bg_done_cv_(&mu_),
      bg_work_cv_(&mu_),
      group_cv_(&mu_) {
  if (options_.bloom_bits_per_key > 0) {
    user_filter_policy_ = NewBloomFilterPolicy(options_.bloom_bits_per_key);
    filter_policy_ = NewInternalFilterPolicy(user_filter_policy_.get());
  }
  TableOptions topt;
  topt.comparator = &icmp_;
  topt.filter_policy = filter_policy_.get();
  topt.block_size = options_.block_size;
  topt.block_restart_interval = options_.block_restart_interval;
  topt.compression = options_.compression;
  topt.block_cache = options_.block_cache;
  topt.paranoid_checks = options_.paranoid_checks;
  table_cache_ = std::make_unique<TableCache>(dbname_, env_, topt,
                                              options_.max_open_files - kNumNonTableCacheFiles);
  versions_ = std::make_unique<VersionSet>(dbname_, &options_, table_cache_.get(), &icmp_);
}

DBImpl::~DBImpl() {
  {
    MutexLock l(&mu_);
    shutting_down_.store(true, std::memory_order_release);
    bg_work_cv_.SignalAll();
  }
  if (bg_thread_.joinable()) bg_thread_.join();
  MutexLock l(&mu_);
  // Writes made with sync=false reach the file system before we let go.
  if (log_ != nullptr && bg_error_.ok()) log_->Sync().IgnoreError();
  log_.reset();
  if (logfile_ != nullptr) logfile_->Close().IgnoreError();
  logfile_.reset();
  if (prepared_log_.file != nullptr) prepared_log_.file->Close().IgnoreError();
  if (mem_ != nullptr) mem_->Unref();
  if (imm_ != nullptr) imm_->Unref();
  // Snapshots the caller never released die with the DB.
  for (SnapshotImpl* s : snapshots_) delete s;
  snapshots_.clear();
  versions_.reset();
  {
    MutexLock info(&info_log_mu_);
    if (info_log_ != nullptr) info_log_->Close().IgnoreError();
    info_log_.reset();
  }
  db_lock_.reset();
}

// ------------------------------------------------------------------ open

Status DBImpl::NewDB() {
  VersionEdit edit;
  edit.SetComparatorName(icmp_.user_comparator()->Name());
  edit.SetLogNumber(0);
  edit.SetNextFile(2);
  edit.SetLastSequence(0);
  const std::string manifest = DescriptorFileName(dbname_, 1);
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->NewWritableFile(manifest));
  std::string record;
  edit.EncodeTo(&record);
  Status s;
  {
    WalWriter writer(file.get(), 1);
    s = writer.AddRecord(record);
    if (s.ok()) s = writer.Sync();
  }
  if (s.ok()) s = file->Close();
  if (s.ok()) s = SetCurrentFile(env_, dbname_, 1);
  if (!s.ok()) env_->RemoveFile(manifest).IgnoreError();
  return s;
}

Status DBImpl::Recover(VersionEdit* edit) {
  DKV_RETURN_IF_ERROR(env_->CreateDir(dbname_));
  auto lock = env_->LockFile(LockFileName(dbname_));
  if (!lock.ok()) return lock.status().WithContext("db " + dbname_);
  db_lock_ = std::move(lock).value();
  {
    // Keep the previous run's LOG as LOG.old.
    const std::string log_name = InfoLogFileName(dbname_);
    if (env_->FileExists(log_name)) env_->RenameFile(log_name, log_name + ".old").IgnoreError();
    auto info = env_->NewWritableFile(log_name);
    MutexLock l(&info_log_mu_);
    if (info.ok()) info_log_ = std::move(info).value();
  }

  if (!env_->FileExists(CurrentFileName(dbname_))) {
    if (!options_.create_if_missing) {
      return Status::InvalidArgument(dbname_, "does not exist (create_if_missing is false)");
    }
    DKV_RETURN_IF_ERROR(NewDB());
  } else if (options_.error_if_exists) {
    return Status::InvalidArgument(dbname_, "exists (error_if_exists is true)");
  }
  DKV_RETURN_IF_ERROR(versions_->Recover());

  // Every table the manifest names must be there; logs newer than the
  // manifest's log number hold writes not yet in a table.
  DKV_ASSIGN_OR_RETURN(std::vector<std::string> children, env_->GetChildren(dbname_));
  std::set<uint64_t> expected;
  versions_->AddLiveFiles(&expected);
  std::vector<uint64_t> logs;
  for (const std::string& name : children) {
    uint64_t number;
    FileType type;
    if (!ParseFileName(name, &number, &type)) continue;
    expected.erase(number);
    if (type == FileType::kLogFile && number >= versions_->LogNumber()) logs.push_back(number);
  }
  if (!expected.empty()) {
    std::string what = "missing table " + TableBaseName(*expected.begin());
    if (expected.size() > 1) what += " and " + std::to_string(expected.size() - 1) + " more";
    return Status::Corruption("db " + dbname_, what);
  }
  std::sort(logs.begin(), logs.end());
  SequenceNumber max_sequence = versions_->LastSequence();
  for (uint64_t log : logs) {
    versions_->MarkFileNumberUsed(log);
    DKV_RETURN_IF_ERROR(RecoverLogFile(log, edit, &max_sequence));
  }
  if (versions_->LastSequence() < max_sequence) versions_->SetLastSequence(max_sequence);
  return Status::OK();
}

Status DBImpl::RecoverLogFile(uint64_t log_number, VersionEdit* edit,
                              SequenceNumber* max_sequence) {
  struct Reporter final : WalReader::Reporter {
    Status first;
    std::vector<std::string>* warnings;
    DBImpl* db;
    void Corruption(size_t bytes, const Status& s) override {
      if (first.ok()) first = s;
      warnings->push_back(s.ToString() + " (" + std::to_string(bytes) + " bytes dropped)");
      db->InfoLog("recovery: %s", warnings->back().c_str());
    }
  } reporter;
  reporter.warnings = &recovery_warnings_;
  reporter.db = this;
  InfoLog("recovering %s", LogBaseName(log_number).c_str());
  const std::string fname = LogFileName(dbname_, log_number);
  const std::string where = "wal " + LogBaseName(log_number);
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, env_->NewSequentialFile(fname));
  WalReader reader(file.get(), LogBaseName(log_number), log_number, &reporter, true);

  std::string scratch;
  std::string_view record;
  WriteBatch batch;
  MemTable* mem = nullptr;
  Status s;
  while (reader.ReadRecord(&record, &scratch)) {
    if (options_.paranoid_checks && !reporter.first.ok()) break;
    Status bs = record.size() < WriteBatch::kHeaderSize
                    ? Status::Corruption(where, "record too small")
                    : batch.SetContents(record);
    if (bs.ok()) {
      if (mem == nullptr) {
        mem = new MemTable(icmp_);
        mem->Ref();
      }
      bs = WriteBatchInternal::InsertInto(batch, mem);
    }
    if (!bs.ok()) {
      char what[96];
      std::snprintf(what, sizeof(what), "bad batch at offset %" PRIu64 ": ",
                    reader.LastRecordOffset());
      reporter.Corruption(record.size(), Status::Corruption(where, what + bs.message()));
      continue;
    }
    if (batch.Count() > 0) {  // an empty batch (SyncWal) uses no sequence number
      SequenceNumber last = batch.Sequence() + batch.Count() - 1;
      if (last > *max_sequence) *max_sequence = last;
    }
    if (mem->ApproximateMemoryUsage() > options_.write_buffer_size) {
      s = WriteLevel0Table(mem, edit, nullptr);
      mem->Unref();
      mem = nullptr;
      if (!s.ok()) break;
    }
  }
  if (s.ok() && options_.paranoid_checks && !reporter.first.ok()) s = reporter.first;
  if (s.ok() && mem != nullptr) s = WriteLevel0Table(mem, edit, nullptr);
  if (mem != nullptr) mem->Unref();
  return s;
}

Status DBImpl::NewLogFile() {
  // Sync the old log's tail first: a later synced write in the new log must
  // never survive a crash that loses an earlier write (recovery is a prefix).
  if (log_ != nullptr && log_dirty_) {
    Status s = log_->Sync();
    if (!s.ok()) {
      RecordBackgroundError(s);
      return s;
    }
  }
  uint64_t number;
  std::unique_ptr<WritableFile> file;
  if (prepared_log_.file != nullptr && prepared_log_.number < logfile_number_) {
    // Prepared while a plain log was opened: too old to use (logs replay in
    // number order). Recycle it under a new number later.
    prepared_log_.file->Close().IgnoreError();
    recyclable_logs_.push_back(prepared_log_.number);
    pending_outputs_.erase(prepared_log_.number);
    prepared_log_ = PreparedLog();
  }
  uint64_t capacity = 0;
  if (prepared_log_.file != nullptr) {
    number = prepared_log_.number;
    capacity = prepared_log_.capacity;
    file = std::move(prepared_log_.file);
    prepared_log_ = PreparedLog();
    pending_outputs_.erase(number);
  } else {
    number = versions_->NewFileNumber();
    auto f = env_->NewWritableFile(LogFileName(dbname_, number));
    if (!f.ok()) return f.status();
    file = std::move(f).value();
    // The new entry must survive a crash before any synced write lands in it.
    Status s = env_->SyncDir(dbname_);
    if (!s.ok()) {
      env_->RemoveFile(LogFileName(dbname_, number)).IgnoreError();
      return s;
    }
  }
  log_dirty_ = false;
  prepare_log_failed_ = false;
  log_.reset();
  if (logfile_ != nullptr) logfile_->Close().IgnoreError();
  logfile_ = std::move(file);
  logfile_number_ = number;
  log_capacity_ = capacity;
  log_ = std::make_unique<WalWriter>(logfile_.get(), number);
  return Status::OK();
}

Result<std::unique_ptr<DB>> DB::Open(const Options& options, const std::string& path) {
  auto impl = std::make_unique<DBImpl>(options, path);
  MutexLock l(&impl->mu_);
  VersionEdit edit;
  Status s = impl->Recover(&edit);
  if (s.ok()) {
    // The first log is zero-filled here (a little: the background thread
    // prepares a full one meanwhile), so even the first synced writes are
    // overwrites. On failure, fall back to a plain appending log.
    const size_t zero_bytes =
        std::min(kInitialWalPrezeroBytes, impl->options_.write_buffer_size + kWalPrezeroSlackBytes);
    Status z = impl->MakeOverwritableLog(impl->versions_->NewFileNumber(), std::nullopt, zero_bytes,
                                         &impl->prepared_log_);
    if (!z.ok()) impl->InfoLog("no pre-zeroed first log: %s", z.ToString().c_str());
    s = impl->NewLogFile();
  }
  if (s.ok()) {
    impl->mem_ = new MemTable(impl->icmp_);
    impl->mem_->Ref();
    impl->mem_log_number_ = impl->logfile_number_;
    edit.SetLogNumber(impl->logfile_number_);
    s = impl->versions_->LogAndApply(&edit, &impl->mu_);
  }
  if (!s.ok()) return s.WithContext("open " + path);
  impl->DeleteObsoleteFiles();
  impl->InfoLog("opened: last sequence %" PRIu64 ", wal %s", impl->versions_->LastSequence(),
                LogBaseName(impl->logfile_number_).c_str());
  impl->bg_thread_ = std::thread([db = impl.get()] { db->BackgroundLoop(); });
  impl->WakeBackground();
  return std::unique_ptr<DB>(std::move(impl));
}

// ------------------------------------------------------------------ writes

Status DBImpl::Put(const WriteOptions& options, std::string_view key, std::string_view value) {
  WriteBatch batch;
  batch.Put(key, value);
  return Write(options, batch);
}

Status DBImpl::Delete(const WriteOptions& options, std::string_view key) {
  WriteBatch batch;
  batch.Delete(key);
  return Write(options, batch);
}

Status DBImpl::Write(const WriteOptions& options, const WriteBatch& batch) {
  struct LimitChecker final : WriteBatch::Handler {
    Status status;
    void Check(std::string_view key, size_t value_size) {
      if (!status.ok()) return;
      if (key.size() > kMaxKeySize) {
        status = Status::InvalidArgument("write", "key of " + std::to_string(key.size()) +
                                                      " bytes exceeds kMaxKeySize " +
                                                      std::to_string(kMaxKeySize));
      } else if (value_size > kMaxValueSize) {
        status = Status::InvalidArgument("write", "value of " + std::to_string(value_size) +
                                                      " bytes exceeds kMaxValueSize " +
                                                      std::to_string(kMaxValueSize));
      }
    }
    void Put(std::string_view key, std::string_view value) override { Check(key, value.size()); }
    void Delete(std::string_view key) override { Check(key, 0); }
  } checker;
  // A batch smaller than the smallest limit cannot hold an oversized key or
  // value: skip the parse on the common path.
  static_assert(kMaxKeySize <= kMaxValueSize);
  if (batch.ApproximateSize() > kMaxKeySize) {
    DKV_RETURN_IF_ERROR(batch.Iterate(&checker));
    DKV_RETURN_IF_ERROR(checker.status);
  }
  return WriteImpl(options, &batch);
}

Status DBImpl::SyncWal() {
  WriteBatch empty;
  WriteOptions options;
  options.sync = true;
  return WriteImpl(options, &empty);
}

// batch == nullptr: no write, just force a memtable switch (Flush).
Status DBImpl::WriteImpl(const WriteOptions& options, const WriteBatch* batch) {
  Writer w(&mu_);
  w.batch = batch;
  w.sync = options.sync;
  if (options.on_logged) w.on_logged = &options.on_logged;

  MutexLock l(&mu_);
  writers_.push_back(&w);
  if (leader_waiting_) group_cv_.Signal();
  while (!w.done && &w != writers_.front()) w.cv.Wait();
  if (w.done) return w.status;

  // This thread leads a group.
  if (batch != nullptr && w.sync) WaitForGroup();
  Status status = MakeRoomForWrite(batch == nullptr);
  if (status.ok() && batch != nullptr && prepared_log_.file != nullptr &&
      log_->size() + batch->ApproximateSize() > log_capacity_) {
    // The current log would append (a plain log, or past its zeroed part):
    // move to the prepared one so syncs stay overwrites. Same memtable; both
    // logs stay live until it is flushed (mem_log_number_ is unchanged).
    status = NewLogFile();
  }
  SequenceNumber last_sequence = versions_->LastSequence();
  Writer* last_writer = &w;
  if (status.ok() && batch != nullptr) {
    const WriteBatch* group = BuildBatchGroup(&last_writer);
    bool sync = false;
    logged_callbacks_.clear();
    for (Writer* m : writers_) {
      sync = sync || m->sync;
      if (m->on_logged != nullptr) logged_callbacks_.push_back(m->on_logged);
      if (m == last_writer) break;
    }
    // group_batch_ (if used) is only touched by the leader, so it is safe to
    // use after unlocking.
    WriteBatch* mutable_group = const_cast<WriteBatch*>(group);
    mutable_group->SetSequence(last_sequence + 1);
    last_sequence += group->Count();

    // Append + sync + insert without the mutex: followers are parked and
    // only the leader writes log_ and the memtable; readers never block.
    MemTable* mem = mem_;
    const std::vector<const std::function<void()>*>* logged_callbacks = &logged_callbacks_;
    mu_.Unlock();
    status = log_->AddRecord(group->Contents());
    int64_t sync_micros = -1;
    bool inserted = false;
    if (status.ok() && sync) {
      // A synced group is inserted while the disk writes it: start the
      // write-back of the appended bytes, insert (CPU), then fsync, which
      // now mostly waits for the cache flush. Nothing is visible early: reads
      // see entries only up to LastSequence, set below once all went well
      // (on a failed sync the inserted entries stay invisible, and the DB
      // refuses writes from then on). Measured: +4-5% durable SETs/s at -P 1
      // and one sleep per fsync instead of two (benchmarks.md, "Insert
      // during the WAL write").
      status = log_->StartWriteBack();
      if (status.ok()) status = WriteBatchInternal::InsertInto(*group, mem);
      inserted = true;
    }
    if (status.ok() && sync) {
      const int64_t start = env_->NowMicros();
      status = log_->Sync();
      sync_micros = env_->NowMicros() - start;
    } else if (status.ok()) {
      // WriteOptions::sync = false promises that a process crash loses
      // nothing: the group must reach the OS, not stay in the log's buffer.
      status = log_->Flush();
    }
    if (status.ok()) log_dirty_ = !sync;
    if (status.ok()) {
      // Durable as asked: the group's writers may acknowledge now.
      for (const std::function<void()>* f : *logged_callbacks) (*f)();
      if (!inserted) status = WriteBatchInternal::InsertInto(*group, mem);
    }
    mu_.Lock();
    if (sync_micros >= 0) {
      // Everyone queued now (the group and those who arrived during the
      // fsync) is the concurrency the next leader may wait for.
      sync_concurrency_ = writers_.size();
      sync_micros_avg_ =
          sync_micros_avg_ == 0 ? sync_micros : (sync_micros_avg_ * 7 + sync_micros) / 8;
    }
    if (status.ok() && !want_prepared_log_ && prepared_log_.file == nullptr &&
        log_->size() * 2 > log_capacity_) {
      want_prepared_log_ = true;
      WakeBackground();
    }
    if (!status.ok()) {
      // The log's tail is unknown now (the WAL writer is poisoned); refuse
      // further writes rather than risk acknowledging lost ones.
      RecordBackgroundError(status);
    } else {
      versions_->SetLastSequence(last_sequence);
    }
    if (group == group_batch_.get()) group_batch_->Clear();
  }

  while (true) {
    Writer* ready = writers_.front();
    writers_.pop_front();
    if (ready != &w) {
      ready->status = status;
      ready->done = true;
      ready->cv.Signal();
    }
    if (ready == last_writer) break;
  }
  if (!writers_.empty()) writers_.front()->cv.Signal();
  return status;
}

void DBImpl::WaitForGroup() {
  const size_t want = sync_concurrency_;
  if (writers_.size() >= want) return;
  const int64_t budget = std::min(options_.max_group_commit_wait_micros, sync_micros_avg_ / 2);
  if (budget <= 0) return;
  const int64_t deadline = env_->NowMicros() + budget;
  leader_waiting_ = true;
  while (writers_.size() < want) {
    const int64_t left = deadline - env_->NowMicros();
    if (left <= 0) break;
    group_cv_.WaitForMicros(left);
  }
  leader_waiting_ = false;
}

const WriteBatch* DBImpl::BuildBatchGroup(Writer** last_writer) {
  DKV_ASSERT(!writers_.empty());
  Writer* first = writers_.front();
  const WriteBatch* result = first->batch;
  DKV_ASSERT(result != nullptr);
  size_t size = result->ApproximateSize();
  size_t max_size = kMaxWriteGroupBytes;
  if (size <= kSmallWriteGroupSlackBytes) max_size = size + kSmallWriteGroupSlackBytes;
  *last_writer = first;
  for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
    Writer* w = *it;
    if (w->batch == nullptr) break;  // a Flush request leads its own group
    size += w->batch->ApproximateSize();
    if (size > max_size) break;
    if (result == first->batch) {
      if (group_batch_ == nullptr) group_batch_ = std::make_unique<WriteBatch>();
      DKV_ASSERT(group_batch_->Count() == 0);
      group_batch_->Append(*first->batch);
      result = group_batch_.get();
    }
    group_batch_->Append(*w->batch);
    *last_writer = w;
  }
  if (result == first->batch) {
    // A lone batch: copy so its sequence can be set without touching the
    // caller's const batch.
    if (group_batch_ == nullptr) group_batch_ = std::make_unique<WriteBatch>();
    group_batch_->Append(*first->batch);
    result = group_batch_.get();
  }
  return result;
}

void DBImpl::InfoLog(const char* format, ...) {
  char buf[512];
  const int64_t now = env_->NowMicros();
  int n =
      std::snprintf(buf, sizeof(buf), "%" PRId64 ".%06" PRId64 " ", now / 1000000, now % 1000000);
  va_list ap;
  va_start(ap, format);
  int m = std::vsnprintf(buf + n, sizeof(buf) - static_cast<size_t>(n) - 1, format, ap);
  va_end(ap);
  size_t len = std::min(sizeof(buf) - 2, static_cast<size_t>(n + std::max(m, 0)));
  buf[len++] = '\n';
  MutexLock l(&info_log_mu_);
  if (info_log_ == nullptr) return;
  if (info_log_->Append(std::string_view(buf, len)).ok()) info_log_->Flush().IgnoreError();
}

void DBImpl::RecordBackgroundError(const Status& s) {
  if (bg_error_.ok() && !s.ok()) {
    InfoLog("background error: %s", s.ToString().c_str());
    bg_error_ = s;
    bg_done_cv_.SignalAll();
  }
}

Status DBImpl::MakeRoomForWrite(bool force) {
  bool allow_delay = !force;
  while (true) {
    const int l0_files = versions_->NumLevelFiles(0);
    if (!bg_error_.ok()) {
      return bg_error_.WithContext("db stopped accepting writes after a background error");
    } else if (allow_delay && l0_files >= options_.level0_slowdown_writes_trigger) {
      // Hand compaction a little time per write instead of stopping all
      // writes later: the delay grows with the level-0 backlog.
      int64_t delay =
          kSlowdownDelayMicros * (1 + l0_files - options_.level0_slowdown_writes_trigger);
      delay = std::min(delay, kMaxSlowdownDelayMicros);
      write_delays_++;
      mu_.Unlock();
      env_->SleepForMicros(delay);
      mu_.Lock();
      allow_delay = false;
    } else if (!force && mem_->ApproximateMemoryUsage() <= options_.write_buffer_size) {
      return Status::OK();
    } else if (imm_ != nullptr) {
      write_stops_++;
      WakeBackground();
      bg_done_cv_.Wait();
    } else if (l0_files >= options_.level0_stop_writes_trigger) {
      write_stops_++;
      WakeBackground();
      bg_done_cv_.Wait();
    } else {
      DKV_RETURN_IF_ERROR(NewLogFile());
      mem_log_number_ = logfile_number_;
      imm_ = mem_;
      has_imm_.store(true, std::memory_order_release);
      mem_ = new MemTable(icmp_);
      mem_->Ref();
      force = false;
      WakeBackground();
    }
  }
}

// ------------------------------------------------------------------ reads

SequenceNumber DBImpl::SmallestSnapshot() const {
  return snapshots_.empty() ? versions_->LastSequence() : snapshots_.front()->seq_;
}

Status DBImpl::Get(const ReadOptions& options, std::string_view key, std::string* value) {
  MemTable* mem;
  MemTable* imm;
  Version* current;
  SequenceNumber seq;
  {
    MutexLock l(&mu_);
    seq = options.snapshot != nullptr ? options.snapshot->sequence() : versions_->LastSequence();
    mem = mem_;
    imm = imm_;
    current = versions_->current();
    mem->Ref();
    if (imm != nullptr) imm->Ref();
    current->Ref();
  }
  Status s;
  {
    LookupKey lkey(key, seq);
    if (mem->Get(lkey, value, &s)) {
      // found a value or a deletion in the memtable
    } else if (imm != nullptr && imm->Get(lkey, value, &s)) {
      // found in the immutable memtable
    } else {
      s = current->Get(options, lkey, value);
    }
  }
  MutexLock l(&mu_);
  mem->Unref();
  if (imm != nullptr) imm->Unref();
  current->Unref();
  return s;
}

std::unique_ptr<Iterator> DBImpl::NewIterator(const ReadOptions& options) {
  std::vector<std::unique_ptr<Iterator>> children;
  SequenceNumber seq;
  MemTable* mem;
  MemTable* imm;
  Version* current;
  {
    MutexLock l(&mu_);
    seq = options.snapshot != nullptr ? options.snapshot->sequence() : versions_->LastSequence();
    mem = mem_;
    imm = imm_;
    current = versions_->current();
    mem->Ref();
    if (imm != nullptr) imm->Ref();
    current->Ref();
  }
  children.push_back(mem->NewIterator());
  if (imm != nullptr) children.push_back(imm->NewIterator());
  current->AddIterators(options, &children);
  std::unique_ptr<Iterator> internal = NewMergingIterator(&icmp_, std::move(children));
  internal->RegisterCleanup([this, mem, imm, current] {
    MutexLock l(&mu_);
    mem->Unref();
    if (imm != nullptr) imm->Unref();
    current->Unref();
  });
  std::optional<std::string> upper;
  if (!options.iterate_upper_bound.empty()) upper = std::string(options.iterate_upper_bound);
  return NewDBIterator(icmp_.user_comparator(), std::move(internal), seq, std::move(upper));
}

const Snapshot* DBImpl::GetSnapshot() {
  MutexLock l(&mu_);
  auto* s = new SnapshotImpl(versions_->LastSequence());
  snapshots_.push_back(s);
  s->pos = std::prev(snapshots_.end());
  return s;
}

void DBImpl::ReleaseSnapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  auto* s = const_cast<SnapshotImpl*>(static_cast<const SnapshotImpl*>(snapshot));
  MutexLock l(&mu_);
  snapshots_.erase(s->pos);
  delete s;
}

// ------------------------------------------------------------------ destroy

Status DestroyDB(const std::string& dbname, const Options& options) {
  Env* env = options.env != nullptr ? options.env : Env::Posix();
  auto children = env->GetChildren(dbname);
  if (!children.ok()) return Status::OK();  // nothing to destroy
  auto lock = env->LockFile(LockFileName(dbname));
  if (!lock.ok()) return lock.status();
  Status result;
  for (const std::string& name : *children) {
    uint64_t number;
    FileType type;
    if (ParseFileName(name, &number, &type) && type != FileType::kLockFile) {
      Status s = env->RemoveFile(dbname + "/" + name);
      if (result.ok() && !s.ok()) result = s;
    }
  }
  lock->reset();
  env->RemoveFile(LockFileName(dbname)).IgnoreError();
  env->RemoveDir(dbname).IgnoreError();  // fails if other files remain: fine
  return result;
}

}  // namespace dkv::storage

// DBImpl's background half: the thread that flushes memtables, prepares the
// next WAL file and compacts; manual flush/compaction requests; deletion of
// obsolete files. See db_impl.h for the locking rules.
#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "storage/db_impl.h"
#include "storage/filename.h"
#include "storage/limits.h"
#include "storage/memtable.h"
#include "storage/table_builder.h"
#include "storage/table_cache.h"
#include "storage/wal_writer.h"

namespace dkv::storage {

namespace {
// Zeros are written in chunks of this size when pre-zeroing a WAL file.
constexpr size_t kZeroChunkBytes = 1 << 20;
}  // namespace

struct DBImpl::ManualCompaction {
  int level = 0;
  bool universal_all = false;  // universal style: merge every run to the bottom
  bool done = false;
  Status status;
  std::optional<std::string> begin;
  std::optional<std::string> end;
};

struct DBImpl::CompactionState {
  explicit CompactionState(Compaction* c) : compaction(c) {}
  struct Output {
    uint64_t number;
    uint64_t file_size;
    std::string smallest, largest;
  };
  Compaction* const compaction;
  // Ascending sequence numbers of live snapshots; entries are kept per
  // "stripe" between consecutive snapshots.
  std::vector<SequenceNumber> snapshots;
  std::vector<Output> outputs;
  std::unique_ptr<WritableFile> outfile;
  std::unique_ptr<TableBuilder> builder;
  uint64_t total_bytes = 0;
  Output* current_output() { return &outputs.back(); }
};

void DBImpl::WakeBackground() { bg_work_cv_.SignalAll(); }

bool DBImpl::HasBackgroundWork() const {
  if (!bg_error_.ok()) return false;
  if (imm_ != nullptr || manual_compaction_ != nullptr) return true;
  if (want_prepared_log_ && prepared_log_.file == nullptr && !prepare_log_failed_) return true;
  return versions_->NeedsCompaction();
}

void DBImpl::BackgroundLoop() {
  MutexLock l(&mu_);
  while (true) {
    while (!shutting_down_.load(std::memory_order_acquire) && !HasBackgroundWork()) {
      bg_work_cv_.Wait();
    }
    if (shutting_down_.load(std::memory_order_acquire)) break;
    BackgroundWork();
    bg_done_cv_.SignalAll();
  }
  // Wake anyone waiting on a manual request so they see the shutdown.
  if (manual_compaction_ != nullptr) {
    manual_compaction_->done = true;
    manual_compaction_->status = Status::Aborted("db", "closing");
    manual_compaction_ = nullptr;
  }
  bg_done_cv_.SignalAll();
}

void DBImpl::BackgroundWork() {
  if (imm_ != nullptr) {
    Status s = CompactMemTable();
    if (!s.ok()) RecordBackgroundError(s);
    return;
  }
  if (want_prepared_log_ && prepared_log_.file == nullptr && !prepare_log_failed_) {
    PrepareNextLog();
    return;
  }
  std::unique_ptr<Compaction> c;
  ManualCompaction* m = manual_compaction_;
  if (m != nullptr) {
    if (m->universal_all) {
      c = versions_->CompactAllToBottom();
    } else {
      std::string_view b, e;
      if (m->begin) b = *m->begin;
      if (m->end) e = *m->end;
      c = versions_->CompactRange(m->level, m->begin ? &b : nullptr, m->end ? &e : nullptr);
    }
  } else {
    c = versions_->PickCompaction();
  }
  Status s;
  if (c != nullptr) {
    compaction_running_ = true;
    s = DoCompaction(c.get());
    compaction_running_ = false;
  }
  c.reset();
  if (!s.ok() && !shutting_down_.load()) RecordBackgroundError(s);
  if (m != nullptr) {
    m->status = s;
    m->done = true;
    manual_compaction_ = nullptr;
  }
}

// ------------------------------------------------------------------ flush

Status DBImpl::BuildTable(Iterator* iter, FileMetaData* meta) {
  const std::string fname = TableFileName(dbname_, meta->number);
  meta->file_size = 0;
  iter->SeekToFirst();
  if (!iter->Valid()) return iter->status();
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->NewWritableFile(fname));
  TableBuilder builder(table_cache_->table_options(), file.get());
  meta->smallest.assign(iter->key());
  for (; iter->Valid(); iter->Next()) {
    std::string_view key = iter->key();
    meta->largest.assign(key);
    builder.Add(key, iter->value());
  }
  Status s = iter->status();
  if (s.ok()) {
    s = builder.Finish();
  } else {
    builder.Abandon();
  }
  if (s.ok()) {
    meta->file_size = builder.FileSize();
    s = file->Sync();
  }
  if (s.ok()) s = file->Close();
  file.reset();
  if (s.ok()) {
    // Read it back: a table we cannot open must never reach the manifest.
    auto t = table_cache_->FindTable(meta->number, meta->file_size);
    if (!t.ok()) s = t.status();
  }
  if (!s.ok()) {
    env_->RemoveFile(fname).IgnoreError();
    meta->file_size = 0;
  }
  return s.WithContext("flush to " + TableBaseName(meta->number));
}

// base == nullptr during recovery (the table goes to level 0).
Status DBImpl::WriteLevel0Table(MemTable* mem, VersionEdit* edit, Version* base) {
  const int64_t start = env_->NowMicros();
  FileMetaData meta;
  meta.number = versions_->NewFileNumber();
  pending_outputs_.insert(meta.number);
  std::unique_ptr<Iterator> iter = mem->NewIterator();
  Status s;
  {
    mu_.Unlock();
    s = BuildTable(iter.get(), &meta);
    iter.reset();
    mu_.Lock();
  }
  pending_outputs_.erase(meta.number);
  int level = 0;
  if (s.ok() && meta.file_size > 0) {
    if (base != nullptr && !compaction_running_) {
      level = base->PickLevelForMemTableOutput(ExtractUserKey(meta.smallest),
                                               ExtractUserKey(meta.largest));
    }
    edit->AddFile(level, meta.number, meta.file_size, meta.smallest, meta.largest);
  }
  InfoLog("flush: %s, %" PRIu64 " bytes to level %d: %s", TableBaseName(meta.number).c_str(),
          meta.file_size, level, s.ToString().c_str());
  stats_[level].micros += env_->NowMicros() - start;
  stats_[level].bytes_written += static_cast<int64_t>(meta.file_size);
  stats_[level].count++;
  return s;
}

Status DBImpl::CompactMemTable() {
  DKV_ASSERT(imm_ != nullptr);
  VersionEdit edit;
  Version* base = versions_->current();
  base->Ref();
  Status s = WriteLevel0Table(imm_, &edit, base);
  base->Unref();
  if (s.ok()) {
    // Logs before the current one hold only what is now in the table.
    edit.SetLogNumber(mem_log_number_);
    s = versions_->LogAndApply(&edit, &mu_);
  }
  if (s.ok()) {
    imm_->Unref();
    imm_ = nullptr;
    has_imm_.store(false, std::memory_order_release);
    DeleteObsoleteFiles();
  }
  return s;
}

Status DBImpl::WaitForImmutableFlush() {
  MutexLock l(&mu_);
  while (imm_ != nullptr && bg_error_.ok()) bg_done_cv_.Wait();
  return imm_ != nullptr ? bg_error_ : Status::OK();
}

Status DBImpl::Flush() {
  bool empty;
  {
    MutexLock l(&mu_);
    std::unique_ptr<Iterator> it = mem_->NewIterator();
    it->SeekToFirst();
    empty = !it->Valid();
  }
  if (!empty) {
    WriteOptions wo;
    wo.sync = false;
    DKV_RETURN_IF_ERROR(WriteImpl(wo, nullptr));
  }
  return WaitForImmutableFlush();
}

// ------------------------------------------------------------------ WAL prep

Status DBImpl::MakeOverwritableLog(uint64_t number, std::optional<uint64_t> recycle,
                                   size_t zero_bytes, PreparedLog* out) {
  const std::string fname = LogFileName(dbname_, number);
  Status s;
  if (recycle) {
    // An old log's records carry its old number: a reader of the new log
    // sees them as the end, so the file can be overwritten in place.
    s = env_->RenameFile(LogFileName(dbname_, *recycle), fname);
    if (s.ok()) {
      auto size = env_->GetFileSize(fname);
      s = size.status();
      if (s.ok()) out->capacity = *size;
    }
  } else {
    auto file = env_->NewWritableFile(fname);
    s = file.status();
    if (s.ok()) {
      const std::string zeros(std::min(kZeroChunkBytes, zero_bytes), '\0');
      size_t done = 0;
      for (; s.ok() && done < zero_bytes; done += zeros.size()) s = (*file)->Append(zeros);
      if (s.ok()) s = (*file)->Sync();
      if (s.ok()) s = (*file)->Close();
      out->capacity = done;
    }
  }
  if (s.ok()) s = env_->SyncDir(dbname_);
  if (s.ok()) {
    auto f = env_->ReopenForOverwrite(fname);
    s = f.status();
    if (s.ok()) out->file = std::move(f).value();
  }
  if (!s.ok()) {
    env_->RemoveFile(fname).IgnoreError();
    out->file.reset();
    return s;
  }
  out->number = number;
  return Status::OK();
}

void DBImpl::PrepareNextLog() {
  DKV_ASSERT(prepared_log_.file == nullptr);
  const uint64_t number = versions_->NewFileNumber();
  pending_outputs_.insert(number);
  std::optional<uint64_t> recycle;
  if (!recyclable_logs_.empty()) {
    recycle = recyclable_logs_.back();
    recyclable_logs_.pop_back();
  }
  const size_t zero_bytes = options_.write_buffer_size + kWalPrezeroSlackBytes;
  PreparedLog made;
  mu_.Unlock();
  Status s = MakeOverwritableLog(number, recycle, zero_bytes, &made);
  mu_.Lock();
  if (s.ok() && number < logfile_number_) {
    // A plain log was opened meanwhile; this one would replay out of order.
    made.file->Close().IgnoreError();
    pending_outputs_.erase(number);
    recyclable_logs_.push_back(number);
  } else if (s.ok()) {
    prepared_log_ = std::move(made);
    want_prepared_log_ = false;
  } else {
    pending_outputs_.erase(number);
    // Not fatal: the next switch creates a plain log (and reports its own
    // error if the disk is full). Retried after that switch.
    prepare_log_failed_ = true;
  }
}

// ------------------------------------------------------------------ compaction

Status DBImpl::DoCompaction(Compaction* c) {
  const int64_t start = env_->NowMicros();
  if (c->IsTrivialMove()) {
    FileMetaData* f = c->input(0, 0);
    c->edit()->RemoveFile(c->level(), f->number);
    c->edit()->AddFile(c->output_level(), f->number, f->file_size, f->smallest, f->largest);
    Status s = versions_->LogAndApply(c->edit(), &mu_);
    stats_[c->output_level()].micros += env_->NowMicros() - start;
    stats_[c->output_level()].count++;
    return s;
  }
  CompactionState compact(c);
  for (const SnapshotImpl* s : snapshots_) compact.snapshots.push_back(s->seq_);
  Status s = DoCompactionWork(&compact);
  if (s.ok()) s = InstallCompactionResults(&compact);
  for (const auto& out : compact.outputs) pending_outputs_.erase(out.number);
  if (!s.ok()) {
    for (const auto& out : compact.outputs) {
      env_->RemoveFile(TableFileName(dbname_, out.number)).IgnoreError();
    }
  }
  InfoLog("compaction: %zu files (%" PRIu64 " bytes) from level %d to %zu files (%" PRIu64
          " bytes) at level %d: %s",
          c->all_inputs().size(), c->TotalInputBytes(), c->level(), compact.outputs.size(),
          compact.total_bytes, c->output_level(), s.ToString().c_str());
  LevelStats& st = stats_[c->output_level()];
  st.micros += env_->NowMicros() - start;
  st.bytes_read += static_cast<int64_t>(c->TotalInputBytes());
  st.bytes_written += static_cast<int64_t>(compact.total_bytes);
  st.count++;
  c->ReleaseInputs();
  DeleteObsoleteFiles();
  return s;
}

Status DBImpl::OpenCompactionOutputFile(CompactionState* compact) {
  uint64_t number;
  {
    MutexLock l(&mu_);
    number = versions_->NewFileNumber();
    pending_outputs_.insert(number);
    compact->outputs.push_back({number, 0, {}, {}});
  }
  DKV_ASSIGN_OR_RETURN(compact->outfile, env_->NewWritableFile(TableFileName(dbname_, number)));
  compact->builder =
      std::make_unique<TableBuilder>(table_cache_->table_options(), compact->outfile.get());
  return Status::OK();
}

Status DBImpl::FinishCompactionOutputFile(CompactionState* compact) {
  auto* out = compact->current_output();
  Status s = compact->builder->status();
  if (s.ok()) {
    s = compact->builder->Finish();
  } else {
    compact->builder->Abandon();
  }
  out->file_size = compact->builder->FileSize();
  compact->total_bytes += out->file_size;
  compact->builder.reset();
  if (s.ok()) s = compact->outfile->Sync();
  if (s.ok()) s = compact->outfile->Close();
  compact->outfile.reset();
  if (s.ok()) {
    auto t = table_cache_->FindTable(out->number, out->file_size);
    if (!t.ok()) s = t.status();
  }
  return s;
}

Status DBImpl::InstallCompactionResults(CompactionState* compact) {
  Compaction* c = compact->compaction;
  c->AddInputDeletions(c->edit());
  for (const auto& out : compact->outputs) {
    c->edit()->AddFile(c->output_level(), out.number, out.file_size, out.smallest, out.largest);
  }
  return versions_->LogAndApply(c->edit(), &mu_);
}

Status DBImpl::DoCompactionWork(CompactionState* compact) {
  Compaction* c = compact->compaction;
  const Comparator* ucmp = icmp_.user_comparator();
  std::unique_ptr<Iterator> input = versions_->MakeInputIterator(c);
  mu_.Unlock();

  // Which stripe (index of the first snapshot >= seq; snapshots.size() for
  // "only the latest state sees it") an entry belongs to.
  auto stripe_of = [&](SequenceNumber seq) {
    return static_cast<size_t>(
        std::lower_bound(compact->snapshots.begin(), compact->snapshots.end(), seq) -
        compact->snapshots.begin());
  };

  Status status;
  std::string current_user_key;
  bool has_current_user_key = false;
  size_t last_stripe = 0;
  bool want_cut = false;
  input->SeekToFirst();
  while (input->Valid()) {
    if (shutting_down_.load(std::memory_order_acquire)) {
      status = Status::Aborted("compaction", "db closing");
      break;
    }
    if (has_imm_.load(std::memory_order_relaxed)) {
      // A full memtable blocks writers: flush it first.
      mu_.Lock();
      if (imm_ != nullptr) {
        Status fs = CompactMemTable();
        if (!fs.ok()) RecordBackgroundError(fs);
        bg_done_cv_.SignalAll();
      }
      mu_.Unlock();
    }
    std::string_view key = input->key();
    ParsedInternalKey ikey;
    if (!ParseInternalKey(key, &ikey)) {
      status = Status::Corruption("compaction", "malformed internal key in input");
      break;
    }
    bool new_user_key =
        !has_current_user_key || ucmp->Compare(ikey.user_key, current_user_key) != 0;
    if (new_user_key) {
      // Outputs are cut only between user keys, so no key spans two files
      // of one level (reads and compaction picking rely on it).
      if (compact->builder != nullptr && (want_cut || c->ShouldStopBefore(key))) {
        status = FinishCompactionOutputFile(compact);
        if (!status.ok()) break;
        want_cut = false;
      }
      current_user_key.assign(ikey.user_key);
      has_current_user_key = true;
    }
    const size_t stripe = stripe_of(ikey.sequence);
    bool drop = false;
    if (!new_user_key && stripe == last_stripe) {
      drop = true;  // a newer entry of this key is visible to the same readers
    } else if (ikey.type == ValueType::kDeletion && stripe == 0 &&
               c->IsBaseLevelForKey(ikey.user_key)) {
      // Visible to every reader and nothing older below: the tombstone (and
      // the older entries it hides, dropped above) can go.
      drop = true;
    }
    last_stripe = stripe;
    if (!drop) {
      if (compact->builder == nullptr) {
        status = OpenCompactionOutputFile(compact);
        if (!status.ok()) break;
      }
      auto* out = compact->current_output();
      if (compact->builder->NumEntries() == 0) out->smallest.assign(key);
      out->largest.assign(key);
      compact->builder->Add(key, input->value());
      if (compact->builder->FileSize() >= c->MaxOutputFileSize()) want_cut = true;
    }
    input->Next();
  }
  if (status.ok()) status = input->status();
  if (compact->builder != nullptr) {
    if (status.ok()) {
      status = FinishCompactionOutputFile(compact);
    } else {
      compact->builder->Abandon();
      compact->builder.reset();
      compact->outfile.reset();
    }
  }
  input.reset();
  mu_.Lock();
  return status;
}

Status DBImpl::CompactRange(const std::string_view* begin, const std::string_view* end) {
  DKV_RETURN_IF_ERROR(Flush());
  std::vector<int> levels;
  bool universal = options_.compaction_style == CompactionStyle::kUniversal;
  {
    MutexLock l(&mu_);
    int max_level = 0;
    for (int level = 1; level < kNumLevels; level++) {
      std::vector<FileMetaData*> overlap;
      versions_->current()->GetOverlappingInputs(level, begin, end, &overlap);
      if (!overlap.empty()) max_level = level;
    }
    if (universal) {
      levels.push_back(0);
    } else {
      // Down to the deepest level holding the range, and that one rewritten
      // in place one level deeper so its tombstones can go.
      for (int level = 0; level <= std::min(max_level, kNumLevels - 2); level++) {
        levels.push_back(level);
      }
    }
  }
  for (int level : levels) {
    ManualCompaction m;
    m.level = level;
    m.universal_all = universal;
    if (begin) m.begin = std::string(*begin);
    if (end) m.end = std::string(*end);
    MutexLock l(&mu_);
    while (manual_compaction_ != nullptr && bg_error_.ok()) bg_done_cv_.Wait();
    if (!bg_error_.ok()) return bg_error_;
    manual_compaction_ = &m;
    WakeBackground();
    while (!m.done) {
      if (!bg_error_.ok() && manual_compaction_ == &m) {
        manual_compaction_ = nullptr;
        return bg_error_;
      }
      bg_done_cv_.Wait();
    }
    DKV_RETURN_IF_ERROR(m.status);
  }
  return Status::OK();
}

// ------------------------------------------------------------------ cleanup

void DBImpl::DeleteObsoleteFiles() {
  if (!bg_error_.ok()) return;  // the state of new files is unknown: keep all
  std::set<uint64_t> live = pending_outputs_;
  versions_->AddLiveFiles(&live);
  auto children = env_->GetChildren(dbname_);
  if (!children.ok()) return;
  std::vector<std::string> to_delete;
  for (const std::string& name : *children) {
    uint64_t number;
    FileType type;
    if (!ParseFileName(name, &number, &type)) continue;
    bool keep = true;
    switch (type) {
      case FileType::kLogFile:
        keep = number >= versions_->LogNumber() || number == prepared_log_.number ||
               live.count(number) > 0 ||
               std::find(recyclable_logs_.begin(), recyclable_logs_.end(), number) !=
                   recyclable_logs_.end();
        if (!keep && recyclable_logs_.empty() && prepared_log_.file == nullptr) {
          recyclable_logs_.push_back(number);  // reused by PrepareNextLog
          keep = true;
        }
        break;
      case FileType::kDescriptorFile:
        keep = number >= versions_->manifest_file_number();
        break;
      case FileType::kTableFile:
      case FileType::kTempFile:
        keep = live.count(number) > 0;
        break;
      default:
        break;
    }
    if (!keep) {
      if (type == FileType::kTableFile) table_cache_->Evict(number);
      to_delete.push_back(name);
    }
  }
  mu_.Unlock();
  for (const std::string& name : to_delete) {
    env_->RemoveFile(dbname_ + "/" + name).IgnoreError();
  }
  mu_.Lock();
}

// ------------------------------------------------------------------ properties

std::string DBImpl::DebugStats() {
  std::string r;
  char buf[200];
  r += "level  files  size(MB)  time(s)  read(MB)  write(MB)  count\n";
  for (int level = 0; level < kNumLevels; level++) {
    int files = versions_->NumLevelFiles(level);
    if (files == 0 && stats_[level].count == 0) continue;
    std::snprintf(buf, sizeof(buf), "%5d %6d %9.2f %8.2f %9.2f %10.2f %6" PRId64 "\n", level, files,
                  versions_->NumLevelBytes(level) / 1048576.0, stats_[level].micros / 1e6,
                  stats_[level].bytes_read / 1048576.0, stats_[level].bytes_written / 1048576.0,
                  stats_[level].count);
    r += buf;
  }
  std::snprintf(buf, sizeof(buf),
                "write delays: %" PRId64 ", write stops: %" PRId64 ", snapshots: %zu\n",
                write_delays_, write_stops_, snapshots_.size());
  r += buf;
  for (const std::string& w : recovery_warnings_) r += "recovery: " + w + "\n";
  return r;
}

bool DBImpl::GetProperty(std::string_view name, std::string* value) {
  value->clear();
  MutexLock l(&mu_);
  constexpr std::string_view kPrefix = "dkv.";
  if (!name.starts_with(kPrefix)) return false;
  name.remove_prefix(kPrefix.size());
  constexpr std::string_view kNumFiles = "num-files-at-level";
  if (name.starts_with(kNumFiles)) {
    std::string_view rest = name.substr(kNumFiles.size());
    if (rest.size() != 1 || rest[0] < '0' || rest[0] >= '0' + kNumLevels) return false;
    *value = std::to_string(versions_->NumLevelFiles(rest[0] - '0'));
    return true;
  }
  if (name == "stats") {
    *value = DebugStats();
    return true;
  }
  if (name == "sstables") {
    *value = versions_->current()->DebugString();
    return true;
  }
  if (name == "approximate-memory-usage") {
    size_t total = mem_->ApproximateMemoryUsage();
    if (imm_ != nullptr) total += imm_->ApproximateMemoryUsage();
    *value = std::to_string(total);
    return true;
  }
  if (name == "background-error") {
    *value = bg_error_.ToString();
    return true;
  }
  return false;
}

}  // namespace dkv::storage

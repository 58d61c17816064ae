#include "storage/version_set.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "storage/filename.h"
#include "storage/level_iterator.h"
#include "storage/limits.h"
#include "storage/merging_iterator.h"
#include "storage/wal_reader.h"
#include "storage/wal_writer.h"

namespace dkv::storage {

namespace {

// Universal style: merge everything when the newer runs together exceed the
// oldest (largest) run by this percentage (bounds space amplification ~3x).
constexpr uint64_t kUniversalMaxSizeAmplificationPercent = 200;
// Universal style: a run joins a candidate merge if it is at most this much
// (percent) larger than the runs gathered so far ("similar size").
constexpr uint64_t kUniversalSizeRatioPercent = 1;

// Leveled: stop an output file once it overlaps this many target-sized files
// of the grandparent level, so the next compaction of it stays bounded.
constexpr uint64_t kMaxGrandparentOverlapFiles = 10;

uint64_t TotalFileSize(const std::vector<FileMetaData*>& files) {
  uint64_t sum = 0;
  for (const FileMetaData* f : files) sum += f->file_size;
  return sum;
}

bool AfterFile(const Comparator* ucmp, const std::string_view* user_key, const FileMetaData* f) {
  return user_key != nullptr && ucmp->Compare(*user_key, ExtractUserKey(f->largest)) > 0;
}
bool BeforeFile(const Comparator* ucmp, const std::string_view* user_key, const FileMetaData* f) {
  return user_key != nullptr && ucmp->Compare(*user_key, ExtractUserKey(f->smallest)) < 0;
}

}  // namespace

// ---------------------------------------------------------------- Version

Version::~Version() {
  DKV_ASSERT(refs_ == 0);
  prev_->next_ = next_;
  next_->prev_ = prev_;
  for (auto& level : files_) {
    for (FileMetaData* f : level) {
      DKV_ASSERT(f->refs > 0);
      if (--f->refs == 0) delete f;
    }
  }
}

void Version::Ref() { ++refs_; }

void Version::Unref() {
  DKV_ASSERT(this != &vset_->dummy_versions_);
  DKV_ASSERT(refs_ >= 1);
  if (--refs_ == 0) delete this;
}

Status Version::Get(const ReadOptions& options, const LookupKey& key, std::string* value) {
  const Comparator* ucmp = vset_->icmp_->user_comparator();
  std::string_view user_key = key.user_key();
  std::string_view ikey = key.internal_key();

  enum class State { kNotFound, kFound, kDeleted, kCorrupt };
  auto lookup = [&](FileMetaData* f, State* state) -> Status {
    *state = State::kNotFound;
    Status s = vset_->table_cache_->Get(
        options, f->number, f->file_size, ikey, [&](std::string_view k, std::string_view v) {
          ParsedInternalKey parsed;
          if (!ParseInternalKey(k, &parsed)) {
            *state = State::kCorrupt;
          } else if (ucmp->Compare(parsed.user_key, user_key) == 0) {
            if (parsed.type == ValueType::kValue) {
              *state = State::kFound;
              value->assign(v.data(), v.size());
            } else {
              *state = State::kDeleted;
            }
          }
        });
    if (s.ok() && *state == State::kCorrupt) {
      s = Status::Corruption("table " + TableBaseName(f->number), "malformed internal key");
    }
    return s;
  };
  auto finish = [](State state) {
    return state == State::kFound ? Status::OK() : Status::NotFound("key");
  };

  // Level 0 files may overlap: newest (highest number) first.
  const auto& l0 = files_[0];
  for (size_t i = l0.size(); i-- > 0;) {
    FileMetaData* f = l0[i];
    if (ucmp->Compare(user_key, ExtractUserKey(f->smallest)) < 0 ||
        ucmp->Compare(user_key, ExtractUserKey(f->largest)) > 0) {
      continue;
    }
    State state;
    DKV_RETURN_IF_ERROR(lookup(f, &state));
    if (state != State::kNotFound) return finish(state);
  }
  for (int level = 1; level < kNumLevels; level++) {
    const auto& files = files_[level];
    if (files.empty()) continue;
    size_t index = FindFile(*vset_->icmp_, files, ikey);
    if (index >= files.size()) continue;
    FileMetaData* f = files[index];
    if (ucmp->Compare(user_key, ExtractUserKey(f->smallest)) < 0) continue;
    State state;
    DKV_RETURN_IF_ERROR(lookup(f, &state));
    if (state != State::kNotFound) return finish(state);
  }
  return Status::NotFound("key");
}

void Version::AddIterators(const ReadOptions& options,
                           std::vector<std::unique_ptr<Iterator>>* iters) {
  for (FileMetaData* f : files_[0]) {
    iters->push_back(vset_->table_cache_->NewIterator(options, f->number, f->file_size));
  }
  for (int level = 1; level < kNumLevels; level++) {
    if (!files_[level].empty()) {
      iters->push_back(NewLevelIterator(vset_->table_cache_, options, vset_->icmp_, files_[level]));
    }
  }
}

void Version::GetOverlappingInputs(int level, const std::string_view* begin,
                                   const std::string_view* end,
                                   std::vector<FileMetaData*>* inputs) {
  DKV_ASSERT(level >= 0 && level < kNumLevels);
  inputs->clear();
  const Comparator* ucmp = vset_->icmp_->user_comparator();
  std::string user_begin = begin ? std::string(*begin) : std::string();
  std::string user_end = end ? std::string(*end) : std::string();
  for (size_t i = 0; i < files_[level].size();) {
    FileMetaData* f = files_[level][i++];
    std::string_view file_start = ExtractUserKey(f->smallest);
    std::string_view file_limit = ExtractUserKey(f->largest);
    if (begin != nullptr && ucmp->Compare(file_limit, user_begin) < 0) continue;
    if (end != nullptr && ucmp->Compare(file_start, user_end) > 0) continue;
    inputs->push_back(f);
    if (level == 0) {
      // Level-0 files overlap each other: widen the range and start over if
      // this file sticks out of it.
      if (begin != nullptr && ucmp->Compare(file_start, user_begin) < 0) {
        user_begin = std::string(file_start);
        inputs->clear();
        i = 0;
      } else if (end != nullptr && ucmp->Compare(file_limit, user_end) > 0) {
        user_end = std::string(file_limit);
        inputs->clear();
        i = 0;
      }
    }
  }
}

bool Version::OverlapInLevel(int level, std::string_view smallest_user,
                             std::string_view largest_user) {
  const Comparator* ucmp = vset_->icmp_->user_comparator();
  for (FileMetaData* f : files_[level]) {
    if (AfterFile(ucmp, &smallest_user, f) || BeforeFile(ucmp, &largest_user, f)) continue;
    return true;
  }
  return false;
}

int Version::PickLevelForMemTableOutput(std::string_view smallest_user,
                                        std::string_view largest_user) {
  // Universal style keeps every flush in level 0 (one sorted run each).
  if (vset_->options_->compaction_style == CompactionStyle::kUniversal) return 0;
  constexpr int kMaxMemCompactLevel = 2;
  int level = 0;
  if (OverlapInLevel(0, smallest_user, largest_user)) return 0;
  std::string_view lo = smallest_user;
  std::string_view hi = largest_user;
  while (level < kMaxMemCompactLevel) {
    if (OverlapInLevel(level + 1, smallest_user, largest_user)) break;
    if (level + 2 < kNumLevels) {
      std::vector<FileMetaData*> overlaps;
      GetOverlappingInputs(level + 2, &lo, &hi, &overlaps);
      if (TotalFileSize(overlaps) >
          kMaxGrandparentOverlapFiles * vset_->options_->target_file_size) {
        break;
      }
    }
    level++;
  }
  return level;
}

std::string Version::DebugString() const {
  std::string r;
  char buf[160];
  for (int level = 0; level < kNumLevels; level++) {
    std::snprintf(buf, sizeof(buf), "--- level %d ---\n", level);
    r += buf;
    for (const FileMetaData* f : files_[level]) {
      ParsedInternalKey a, b;
      ParseInternalKey(f->smallest, &a);
      ParseInternalKey(f->largest, &b);
      std::snprintf(buf, sizeof(buf), " %06" PRIu64 ".sst %" PRIu64 " bytes [", f->number,
                    f->file_size);
      r += buf;
      r += std::string(a.user_key) + " .. " + std::string(b.user_key) + "]\n";
    }
  }
  return r;
}

// ---------------------------------------------------------------- VersionSet

VersionSet::VersionSet(std::string dbname, const Options* options, TableCache* table_cache,
                       const InternalKeyComparator* icmp)
    : env_(options->env),
      dbname_(std::move(dbname)),
      options_(options),
      table_cache_(table_cache),
      icmp_(icmp),
      dummy_versions_(this) {
  AppendVersion(new Version(this));
}

VersionSet::~VersionSet() {
  current_->Unref();
  // Every other Version must have been released by its holder.
  DKV_ASSERT(dummy_versions_.next_ == &dummy_versions_);
}

void VersionSet::AppendVersion(Version* v) {
  DKV_ASSERT(v->refs_ == 0);
  DKV_ASSERT(v != current_);
  if (current_ != nullptr) current_->Unref();
  current_ = v;
  v->Ref();
  v->prev_ = dummy_versions_.prev_;
  v->next_ = &dummy_versions_;
  v->prev_->next_ = v;
  v->next_->prev_ = v;
}

Version* VersionSet::Apply(Version* base, const VersionEdit& edit) {
  for (const auto& [level, key] : edit.compact_pointers()) compact_pointer_[level] = key;
  Version* v = new Version(this);
  for (int level = 0; level < kNumLevels; level++) {
    std::map<uint64_t, FileMetaData*> by_number;
    for (FileMetaData* f : base->files_[level]) {
      if (edit.deleted_files().count({level, f->number}) == 0) by_number[f->number] = f;
    }
    std::vector<FileMetaData*> added;
    for (const auto& [l, meta] : edit.new_files()) {
      if (l != level) continue;
      by_number.erase(meta.number);
      auto* f = new FileMetaData(meta);
      f->refs = 0;
      added.push_back(f);
    }
    auto& files = v->files_[level];
    for (auto& [number, f] : by_number) files.push_back(f);
    for (FileMetaData* f : added) files.push_back(f);
    if (level == 0) {
      std::sort(files.begin(), files.end(),
                [](FileMetaData* a, FileMetaData* b) { return a->number < b->number; });
    } else {
      std::sort(files.begin(), files.end(), [this](FileMetaData* a, FileMetaData* b) {
        int r = icmp_->Compare(a->smallest, b->smallest);
        return r != 0 ? r < 0 : a->number < b->number;
      });
    }
    for (FileMetaData* f : files) f->refs++;
  }
  Finalize(v);
  return v;
}

bool VersionSet::LevelsAreDisjoint(const Version* v, std::string* what) const {
  for (int level = 1; level < kNumLevels; level++) {
    const auto& files = v->files_[level];
    for (size_t i = 1; i < files.size(); i++) {
      if (icmp_->Compare(files[i - 1]->largest, files[i]->smallest) >= 0) {
        *what = "level " + std::to_string(level) + " files " + TableBaseName(files[i - 1]->number) +
                " and " + TableBaseName(files[i]->number) + " overlap";
        return false;
      }
    }
  }
  return true;
}

double VersionSet::MaxBytesForLevel(int level) const {
  double result = static_cast<double>(options_->max_bytes_for_level_base);
  for (int l = 1; l < level; l++) result *= options_->level_size_multiplier;
  return result;
}

int64_t VersionSet::NumLevelBytes(int level) const {
  return static_cast<int64_t>(TotalFileSize(current_->files_[level]));
}

void VersionSet::Finalize(Version* v) const {
  int best_level = -1;
  double best_score = -1;
  if (options_->compaction_style == CompactionStyle::kUniversal) {
    int runs = static_cast<int>(v->files_[0].size());
    for (int level = 1; level < kNumLevels; level++) runs += v->files_[level].empty() ? 0 : 1;
    best_level = 0;
    best_score = static_cast<double>(runs) / options_->level0_compaction_trigger;
  } else {
    for (int level = 0; level < kNumLevels - 1; level++) {
      double score;
      if (level == 0) {
        // Count files, not bytes: each level-0 file costs every read a probe.
        score = static_cast<double>(v->files_[0].size()) / options_->level0_compaction_trigger;
      } else {
        score = static_cast<double>(TotalFileSize(v->files_[level])) / MaxBytesForLevel(level);
      }
      if (score > best_score) {
        best_score = score;
        best_level = level;
      }
    }
  }
  v->compaction_level_ = best_level;
  v->compaction_score_ = best_score;
}

void VersionSet::WriteSnapshot(VersionEdit* edit) const {
  edit->SetComparatorName(icmp_->user_comparator()->Name());
  edit->SetLogNumber(log_number_);
  edit->SetNextFile(next_file_number_);
  edit->SetLastSequence(last_sequence_);
  for (int level = 0; level < kNumLevels; level++) {
    if (!compact_pointer_[level].empty()) edit->SetCompactPointer(level, compact_pointer_[level]);
    for (const FileMetaData* f : current_->files_[level]) {
      edit->AddFile(level, f->number, f->file_size, f->smallest, f->largest);
    }
  }
}

Status VersionSet::LogAndApply(VersionEdit* edit, Mutex* mu) {
  if (edit->log_number()) {
    DKV_ASSERT(*edit->log_number() >= log_number_);
    DKV_ASSERT(*edit->log_number() < next_file_number_);
  } else {
    edit->SetLogNumber(log_number_);
  }
  edit->SetNextFile(next_file_number_);
  edit->SetLastSequence(last_sequence_);

  Version* v = Apply(current_, *edit);
  std::string overlap;
  // Deeper levels never overlap; an edit breaking that is a bug.
  DKV_ASSERT(LevelsAreDisjoint(v, &overlap));

  std::string new_manifest;
  Status s;
  if (manifest_log_ != nullptr && manifest_log_->size() > kManifestRollBytes) {
    manifest_log_.reset();
    manifest_file_->Close().IgnoreError();  // every record in it was synced
    manifest_file_.reset();
  }
  if (manifest_log_ == nullptr) {
    // First edit since open: start a fresh MANIFEST holding a full snapshot.
    manifest_file_number_ = NewFileNumber();
    edit->SetNextFile(next_file_number_);
    new_manifest = DescriptorFileName(dbname_, manifest_file_number_);
    auto file = env_->NewWritableFile(new_manifest);
    if (file.ok()) {
      manifest_file_ = std::move(file).value();
      manifest_log_ = std::make_unique<WalWriter>(manifest_file_.get(), manifest_file_number_);
      VersionEdit snapshot;
      WriteSnapshot(&snapshot);
      std::string record;
      snapshot.EncodeTo(&record);
      s = manifest_log_->AddRecord(record);
    } else {
      s = file.status();
    }
  }

  // Write outside the mutex: only the background thread (or Open) applies
  // edits, so no second LogAndApply can interleave.
  mu->Unlock();
  // New tables' directory entries must be durable before the manifest that
  // names them (a crash must never leave a manifest naming a lost file).
  if (s.ok() && !edit->new_files().empty()) s = env_->SyncDir(dbname_);
  if (s.ok()) {
    std::string record;
    edit->EncodeTo(&record);
    s = manifest_log_->AddRecord(record);
    if (s.ok()) s = manifest_log_->Sync();
  }
  if (s.ok() && !new_manifest.empty()) s = SetCurrentFile(env_, dbname_, manifest_file_number_);
  mu->Lock();

  if (s.ok()) {
    AppendVersion(v);
    log_number_ = *edit->log_number();
  } else {
    // The edit may or may not be in the MANIFEST: start a new one next time
    // so the file never holds a half-written record followed by more.
    v->refs_ = 1;
    v->Unref();
    manifest_log_.reset();
    manifest_file_.reset();
    if (!new_manifest.empty()) env_->RemoveFile(new_manifest).IgnoreError();
    s = s.WithContext("manifest");
  }
  return s;
}

Status VersionSet::Recover() {
  auto current = ReadFileToString(env_, CurrentFileName(dbname_));
  if (!current.ok()) return current.status();
  std::string name = *current;
  if (name.empty() || name.back() != '\n') {
    return Status::Corruption("CURRENT", "does not end with a newline");
  }
  name.pop_back();
  uint64_t number;
  FileType type;
  if (!ParseFileName(name, &number, &type) || type != FileType::kDescriptorFile) {
    return Status::Corruption("CURRENT", "names no manifest: '" + name + "'");
  }
  std::string path = dbname_ + "/" + name;
  auto file = env_->NewSequentialFile(path);
  if (!file.ok()) return file.status().WithContext("CURRENT names a missing manifest");

  struct Reporter final : WalReader::Reporter {
    Status status;
    void Corruption(size_t, const Status& s) override {
      if (status.ok()) status = s;
    }
  } reporter;
  WalReader reader(file->get(), "manifest " + name, number, &reporter, true);

  std::optional<uint64_t> log_number, next_file, last_seq;
  Version* v = new Version(this);
  v->refs_ = 1;
  std::string scratch;
  std::string_view record;
  Status s;
  int records = 0;
  while (s.ok() && reader.ReadRecord(&record, &scratch)) {
    VersionEdit edit;
    s = edit.DecodeFrom(record);
    if (!s.ok()) {
      char where[64];
      std::snprintf(where, sizeof(where), "record at offset %" PRIu64, reader.LastRecordOffset());
      s = s.WithContext(where);
      break;
    }
    if (edit.comparator() && *edit.comparator() != icmp_->user_comparator()->Name()) {
      s = Status::InvalidArgument(*edit.comparator(), std::string("does not match comparator ") +
                                                          icmp_->user_comparator()->Name());
      break;
    }
    Version* next = Apply(v, edit);
    next->refs_ = 1;
    v->Unref();
    v = next;
    if (edit.log_number()) log_number = edit.log_number();
    if (edit.next_file_number()) next_file = edit.next_file_number();
    if (edit.last_sequence()) last_seq = edit.last_sequence();
    records++;
  }
  if (s.ok() && !reporter.status.ok()) s = reporter.status;
  std::string overlap;
  if (s.ok() && !LevelsAreDisjoint(v, &overlap)) s = Status::Corruption(overlap);
  if (s.ok()) {
    // A damaged last record reads as a torn tail, so a manifest whose only
    // record is damaged ends up here.
    const char* what = !next_file    ? "no next-file entry"
                       : !log_number ? "no log-number entry"
                       : !last_seq   ? "no last-sequence entry"
                                     : nullptr;
    if (what != nullptr) {
      s = Status::Corruption(std::string(what) + " (" + std::to_string(records) +
                             " records; empty, truncated or damaged)");
    }
  }
  if (!s.ok()) {
    v->Unref();
    return s.IsCorruption() ? Status::Corruption("manifest " + name, s.message())
                            : s.WithContext("manifest " + name);
  }
  v->refs_ = 0;
  // Re-link: v was created outside the normal install path.
  v->prev_->next_ = v->next_;
  v->next_->prev_ = v->prev_;
  v->prev_ = v->next_ = v;
  AppendVersion(v);
  next_file_number_ = *next_file;
  manifest_file_number_ = number;
  MarkFileNumberUsed(number);
  last_sequence_ = *last_seq;
  log_number_ = *log_number;
  MarkFileNumberUsed(log_number_);
  return Status::OK();
}

void VersionSet::AddLiveFiles(std::set<uint64_t>* live) const {
  for (const Version* v = dummy_versions_.next_; v != &dummy_versions_; v = v->next_) {
    for (const auto& level : v->files_) {
      for (const FileMetaData* f : level) live->insert(f->number);
    }
  }
}

bool VersionSet::NeedsCompaction() const { return current_->compaction_score_ >= 1; }

std::unique_ptr<Compaction> VersionSet::PickCompaction() {
  if (!NeedsCompaction()) return nullptr;
  return options_->compaction_style == CompactionStyle::kUniversal ? PickUniversal()
                                                                   : PickLeveled();
}

std::unique_ptr<Compaction> VersionSet::PickLeveled() {
  int level = current_->compaction_level_;
  DKV_ASSERT(level >= 0 && level + 1 < kNumLevels);
  std::unique_ptr<Compaction> c(new Compaction(options_, level, level + 1));
  // Round-robin: the first file after where the last compaction stopped.
  for (FileMetaData* f : current_->files_[level]) {
    if (compact_pointer_[level].empty() ||
        icmp_->Compare(f->largest, compact_pointer_[level]) > 0) {
      c->inputs_[0].push_back(f);
      break;
    }
  }
  if (c->inputs_[0].empty()) c->inputs_[0].push_back(current_->files_[level][0]);
  c->input_version_ = current_;
  c->input_version_->Ref();
  if (level == 0) {
    std::string_view lo = ExtractUserKey(c->inputs_[0][0]->smallest);
    std::string_view hi = ExtractUserKey(c->inputs_[0][0]->largest);
    std::string lo_s(lo), hi_s(hi);
    lo = lo_s;
    hi = hi_s;
    current_->GetOverlappingInputs(0, &lo, &hi, &c->inputs_[0]);
    DKV_ASSERT(!c->inputs_[0].empty());
  }
  SetupOtherInputs(c.get());
  return c;
}

void VersionSet::SetupOtherInputs(Compaction* c) {
  const Comparator* ucmp = icmp_->user_comparator();
  auto range = [&](const std::vector<FileMetaData*>& a, const std::vector<FileMetaData*>& b,
                   std::string* lo, std::string* hi) {
    bool first = true;
    for (const auto* files : {&a, &b}) {
      for (FileMetaData* f : *files) {
        std::string_view s = ExtractUserKey(f->smallest), l = ExtractUserKey(f->largest);
        if (first || ucmp->Compare(s, *lo) < 0) *lo = std::string(s);
        if (first || ucmp->Compare(l, *hi) > 0) *hi = std::string(l);
        first = false;
      }
    }
  };
  int level = c->level_;
  std::string lo, hi;
  range(c->inputs_[0], {}, &lo, &hi);
  std::string_view lo_v = lo, hi_v = hi;
  current_->GetOverlappingInputs(level + 1, &lo_v, &hi_v, &c->inputs_[1]);
  std::string all_lo, all_hi;
  range(c->inputs_[0], c->inputs_[1], &all_lo, &all_hi);
  if (level + 2 < kNumLevels) {
    std::string_view a = all_lo, b = all_hi;
    current_->GetOverlappingInputs(level + 2, &a, &b, &c->grandparents_);
  }
  // Next compaction of this level starts after this one's largest key.
  std::string largest;
  for (FileMetaData* f : c->inputs_[0]) {
    if (largest.empty() || icmp_->Compare(f->largest, largest) > 0) largest = f->largest;
  }
  compact_pointer_[level] = largest;
  c->edit_.SetCompactPointer(level, largest);
  for (int which = 0; which < 2; which++) {
    for (FileMetaData* f : c->inputs_[which]) c->all_inputs_.emplace_back(level + which, f);
  }
}

std::unique_ptr<Compaction> VersionSet::PickUniversal() {
  // Sorted runs, newest first: each level-0 file (highest number first), then
  // each non-empty deeper level (shallower is newer).
  struct Run {
    int level;
    FileMetaData* file;  // level 0 only
    uint64_t size;
  };
  std::vector<Run> runs;
  const auto& l0 = current_->files_[0];
  for (size_t i = l0.size(); i-- > 0;) runs.push_back({0, l0[i], l0[i]->file_size});
  for (int level = 1; level < kNumLevels; level++) {
    if (!current_->files_[level].empty()) {
      runs.push_back({level, nullptr, TotalFileSize(current_->files_[level])});
    }
  }
  const size_t n = runs.size();
  if (n < 2) return nullptr;
  // Where the merge of runs [i, j] goes: the level of its oldest run, or for
  // a window ending at the oldest level-0 file, the deepest empty level above
  // the next older run. -1 if the window cannot be merged in place.
  auto output_level = [&](size_t j) -> int {
    if (runs[j].level > 0) return runs[j].level;
    if (j + 1 < n && runs[j + 1].level == 0) return -1;  // not the oldest L0 file
    int limit = j + 1 < n ? runs[j + 1].level : kNumLevels;
    return limit - 1 >= 1 ? limit - 1 : -1;
  };
  size_t pick_i = 0, pick_j = 0;
  bool found = false;
  // 1. Space amplification: everything newer than the oldest run is too big.
  uint64_t newer = 0;
  for (size_t i = 0; i + 1 < n; i++) newer += runs[i].size;
  if (runs[n - 1].size > 0 &&
      newer * 100 > runs[n - 1].size * kUniversalMaxSizeAmplificationPercent) {
    pick_i = 0;
    pick_j = n - 1;
    found = true;
  }
  // 2. Runs of similar size, newest first.
  for (size_t i = 0; !found && i < n; i++) {
    uint64_t sum = runs[i].size;
    size_t j = i;
    while (j + 1 < n && sum * (100 + kUniversalSizeRatioPercent) / 100 >= runs[j + 1].size) {
      sum += runs[j + 1].size;
      j++;
    }
    // Extend until the window can be placed.
    while (j < n && output_level(j) < 0) j++;
    if (j < n && j > i) {
      pick_i = i;
      pick_j = j;
      found = true;
    }
  }
  // 3. Too many runs anyway: merge the newest ones down to the trigger.
  if (!found) {
    size_t j = n - static_cast<size_t>(
                       std::min<int>(options_->level0_compaction_trigger, static_cast<int>(n)));
    while (j < n && output_level(j) < 0) j++;
    if (j >= n) j = n - 1;
    if (j == 0) j = std::min<size_t>(1, n - 1);
    pick_i = 0;
    pick_j = j;
    found = pick_j > pick_i;
  }
  if (!found) return nullptr;
  int out = output_level(pick_j);
  DKV_ASSERT(out >= 1);
  std::unique_ptr<Compaction> c(new Compaction(options_, 0, out));
  c->max_output_file_size_ = options_->target_file_size;
  c->max_grandparent_overlap_bytes_ = UINT64_MAX / 4;
  for (size_t r = pick_i; r <= pick_j; r++) {
    if (runs[r].level == 0) {
      c->all_inputs_.emplace_back(0, runs[r].file);
    } else {
      for (FileMetaData* f : current_->files_[runs[r].level]) {
        c->all_inputs_.emplace_back(runs[r].level, f);
      }
    }
  }
  std::stable_sort(c->all_inputs_.begin(), c->all_inputs_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  c->input_version_ = current_;
  c->input_version_->Ref();
  return c;
}

std::unique_ptr<Compaction> VersionSet::CompactRange(int level, const std::string_view* begin,
                                                     const std::string_view* end) {
  std::vector<FileMetaData*> inputs;
  current_->GetOverlappingInputs(level, begin, end, &inputs);
  if (inputs.empty()) return nullptr;
  std::unique_ptr<Compaction> c(new Compaction(options_, level, level + 1));
  c->input_version_ = current_;
  c->input_version_->Ref();
  c->inputs_[0] = inputs;
  c->allow_trivial_move_ = false;
  SetupOtherInputs(c.get());
  return c;
}

std::unique_ptr<Compaction> VersionSet::CompactAllToBottom() {
  std::unique_ptr<Compaction> c(new Compaction(options_, 0, kNumLevels - 1));
  c->max_grandparent_overlap_bytes_ = UINT64_MAX / 4;
  for (int level = 0; level < kNumLevels; level++) {
    for (FileMetaData* f : current_->files_[level]) c->all_inputs_.emplace_back(level, f);
  }
  if (c->all_inputs_.empty()) return nullptr;
  c->input_version_ = current_;
  c->input_version_->Ref();
  return c;
}

std::unique_ptr<Iterator> VersionSet::MakeInputIterator(Compaction* c) {
  ReadOptions options;
  options.verify_checksums = options_->paranoid_checks;
  options.fill_cache = false;
  std::vector<std::unique_ptr<Iterator>> iters;
  std::map<int, std::vector<FileMetaData*>> by_level;
  for (const auto& [level, f] : c->all_inputs_) {
    if (level == 0) {
      iters.push_back(table_cache_->NewIterator(options, f->number, f->file_size));
    } else {
      by_level[level].push_back(f);
    }
  }
  for (auto& [level, files] : by_level) {
    iters.push_back(NewLevelIterator(table_cache_, options, icmp_, files));
  }
  return NewMergingIterator(icmp_, std::move(iters));
}

// ---------------------------------------------------------------- Compaction

Compaction::Compaction(const Options* options, int level, int output_level)
    : level_(level),
      output_level_(output_level),
      max_output_file_size_(options->target_file_size),
      max_grandparent_overlap_bytes_(kMaxGrandparentOverlapFiles * options->target_file_size) {}

Compaction::~Compaction() { ReleaseInputs(); }

void Compaction::ReleaseInputs() {
  if (input_version_ != nullptr) {
    input_version_->Unref();
    input_version_ = nullptr;
  }
}

uint64_t Compaction::TotalInputBytes() const {
  uint64_t sum = 0;
  for (const auto& [level, f] : all_inputs_) sum += f->file_size;
  return sum;
}

bool Compaction::IsTrivialMove() const {
  return allow_trivial_move_ && level_ + 1 == output_level_ && inputs_[0].size() == 1 &&
         inputs_[1].empty() && all_inputs_.size() == 1 &&
         TotalFileSize(grandparents_) <= max_grandparent_overlap_bytes_;
}

void Compaction::AddInputDeletions(VersionEdit* edit) {
  for (const auto& [level, f] : all_inputs_) edit->RemoveFile(level, f->number);
}

bool Compaction::IsBaseLevelForKey(std::string_view user_key) {
  const Comparator* ucmp = input_version_->vset_->icmp_->user_comparator();
  for (int level = output_level_ + 1; level < kNumLevels; level++) {
    const auto& files = input_version_->files_[level];
    while (level_ptrs_[level] < files.size()) {
      FileMetaData* f = files[level_ptrs_[level]];
      if (ucmp->Compare(user_key, ExtractUserKey(f->largest)) <= 0) {
        if (ucmp->Compare(user_key, ExtractUserKey(f->smallest)) >= 0) return false;
        break;
      }
      level_ptrs_[level]++;  // keys arrive in order: never look back
    }
  }
  return true;
}

bool Compaction::ShouldStopBefore(std::string_view internal_key) {
  const InternalKeyComparator* icmp = input_version_->vset_->icmp_;
  while (grandparent_index_ < grandparents_.size() &&
         icmp->Compare(internal_key, grandparents_[grandparent_index_]->largest) > 0) {
    if (seen_key_) overlapped_bytes_ += grandparents_[grandparent_index_]->file_size;
    grandparent_index_++;
  }
  seen_key_ = true;
  if (static_cast<uint64_t>(overlapped_bytes_) > max_grandparent_overlap_bytes_) {
    overlapped_bytes_ = 0;
    return true;
  }
  return false;
}

}  // namespace dkv::storage

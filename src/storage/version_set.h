// Version and VersionSet: which table files make up the DB, level by level,
// and the MANIFEST that records every change to that.
//
// A Version is an immutable snapshot of the files per level, reference
// counted so that readers and compactions keep the files they use alive.
// The VersionSet owns the current Version and the MANIFEST: LogAndApply
// appends one VersionEdit (WAL record format), syncs, and only then installs
// the new Version; a new MANIFEST is published by rewriting CURRENT with
// write-temp-then-rename. It also picks compactions, leveled or universal
// (size-tiered), as Options::compaction_style says.
//
// Owned by DBImpl. Every method REQUIRES the DB mutex unless noted; a
// Version's Get and iterators may run without it once the caller holds a
// reference (taken under the mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/dbformat.h"
#include "storage/env.h"
#include "storage/iterator.h"
#include "storage/options.h"
#include "storage/table_cache.h"
#include "storage/version_edit.h"

namespace dkv::storage {

class Compaction;
class VersionSet;
class WalWriter;

class Version {
 public:
  // REQUIRES: DB mutex held (refs are guarded by it).
  void Ref();
  void Unref();

  // Looks key up in the tables: level 0 newest first, then one file per
  // deeper level. OK + *value, NotFound (absent or deleted), or an error.
  // May run without the DB mutex (the caller holds a reference).
  Status Get(const ReadOptions& options, const LookupKey& key, std::string* value);

  // Appends iterators that together yield every entry of this Version: one
  // per level-0 file and one concatenating iterator per deeper level.
  void AddIterators(const ReadOptions& options, std::vector<std::unique_ptr<Iterator>>* iters);

  // Files of `level` overlapping the user key range [begin, end] (nullptr:
  // unbounded). On level 0 the range grows to cover every overlapping file.
  void GetOverlappingInputs(int level, const std::string_view* begin, const std::string_view* end,
                            std::vector<FileMetaData*>* inputs);
  bool OverlapInLevel(int level, std::string_view smallest_user, std::string_view largest_user);
  // The level a flushed memtable covering [smallest, largest] should go to:
  // deeper than 0 if nothing overlaps there (saves a compaction), at most 2.
  int PickLevelForMemTableOutput(std::string_view smallest_user, std::string_view largest_user);

  int NumFiles(int level) const { return static_cast<int>(files_[level].size()); }
  const std::vector<FileMetaData*>& files(int level) const { return files_[level]; }
  std::string DebugString() const;

 private:
  friend class VersionSet;
  friend class Compaction;
  explicit Version(VersionSet* vset) : vset_(vset) {}
  ~Version();

  VersionSet* const vset_;
  Version* next_ = this;  // circular list of live versions
  Version* prev_ = this;
  int refs_ = 0;
  // Level 0: sorted by file number (oldest first). Deeper: by smallest key,
  // non-overlapping.
  std::vector<FileMetaData*> files_[kNumLevels];
  double compaction_score_ = -1;
  int compaction_level_ = -1;
};

class VersionSet {
 public:
  VersionSet(std::string dbname, const Options* options, TableCache* table_cache,
             const InternalKeyComparator* icmp);
  ~VersionSet();
  VersionSet(const VersionSet&) = delete;
  VersionSet& operator=(const VersionSet&) = delete;

  // Applies *edit to the current Version, appends it to the MANIFEST
  // (creating a new MANIFEST with a full snapshot first if none is open),
  // syncs, and installs the result as current. The mutex is released while
  // writing. REQUIRES: mu held on entry (held again on return); no other
  // LogAndApply in progress (only Open and the background thread call it).
  Status LogAndApply(VersionEdit* edit, Mutex* mu) REQUIRES(mu);

  // Reads CURRENT and replays the MANIFEST it names. Errors name the file.
  Status Recover();

  Version* current() const { return current_; }
  uint64_t manifest_file_number() const { return manifest_file_number_; }
  uint64_t NewFileNumber() { return next_file_number_++; }
  void MarkFileNumberUsed(uint64_t number) {
    if (next_file_number_ <= number) next_file_number_ = number + 1;
  }
  uint64_t LogNumber() const { return log_number_; }
  SequenceNumber LastSequence() const { return last_sequence_; }
  void SetLastSequence(SequenceNumber s) {
    DKV_ASSERT(s >= last_sequence_);
    last_sequence_ = s;
  }

  int NumLevelFiles(int level) const { return current_->NumFiles(level); }
  int64_t NumLevelBytes(int level) const;
  // Every file number referenced by any live Version.
  void AddLiveFiles(std::set<uint64_t>* live) const;

  bool NeedsCompaction() const;
  // The next compaction to run, or nullptr. Caller owns it.
  std::unique_ptr<Compaction> PickCompaction();
  // A compaction of [begin, end] at `level` into level+1, or nullptr if
  // nothing there overlaps.
  std::unique_ptr<Compaction> CompactRange(int level, const std::string_view* begin,
                                           const std::string_view* end);
  // Universal style, manual: every file into one run at the bottom level,
  // or nullptr if the DB holds no tables.
  std::unique_ptr<Compaction> CompactAllToBottom();
  // Iterator over every input of c (internal keys, merged).
  std::unique_ptr<Iterator> MakeInputIterator(Compaction* c);

  // Writes a full snapshot of the current Version (plus comparator, numbers)
  // as one edit into *edit. Used for new manifests and checkpoints.
  void WriteSnapshot(VersionEdit* edit) const;

  const InternalKeyComparator* icmp() const { return icmp_; }
  TableCache* table_cache() const { return table_cache_; }
  const Options* options() const { return options_; }

  // Max bytes level `level` (>= 1) should hold in leveled style.
  double MaxBytesForLevel(int level) const;

 private:
  friend class Version;
  friend class Compaction;
  void AppendVersion(Version* v);
  // A new Version = base + edit. Pure; REQUIRES mutex (file refs).
  Version* Apply(Version* base, const VersionEdit& edit);
  void Finalize(Version* v) const;
  // False (and *what says where) if two files of a level >= 1 overlap.
  bool LevelsAreDisjoint(const Version* v, std::string* what) const;
  std::unique_ptr<Compaction> PickLeveled();
  std::unique_ptr<Compaction> PickUniversal();
  void SetupOtherInputs(Compaction* c);

  Env* const env_;
  const std::string dbname_;
  const Options* const options_;
  TableCache* const table_cache_;
  const InternalKeyComparator* const icmp_;
  uint64_t next_file_number_ = 2;
  uint64_t manifest_file_number_ = 0;
  uint64_t last_sequence_ = 0;
  uint64_t log_number_ = 0;

  std::unique_ptr<WritableFile> manifest_file_;
  std::unique_ptr<WalWriter> manifest_log_;
  Version dummy_versions_;  // head of the circular list
  Version* current_ = nullptr;
  // Per level: the largest key compacted last time, where the next leveled
  // compaction of that level starts (round-robin through the key space).
  std::string compact_pointer_[kNumLevels];
};

// One compaction: inputs from `level` (and level+1 for leveled), outputs to
// output_level(). Created by VersionSet; used by the background thread.
class Compaction {
 public:
  ~Compaction();
  int level() const { return level_; }
  int output_level() const { return output_level_; }
  VersionEdit* edit() { return &edit_; }
  int num_input_files(int which) const { return static_cast<int>(inputs_[which].size()); }
  FileMetaData* input(int which, int i) const { return inputs_[which][i]; }
  const std::vector<std::pair<int, FileMetaData*>>& all_inputs() const { return all_inputs_; }
  uint64_t TotalInputBytes() const;
  uint64_t MaxOutputFileSize() const { return max_output_file_size_; }
  // A single input file that can move down a level without rewriting.
  bool IsTrivialMove() const;
  void AddInputDeletions(VersionEdit* edit);
  // True if no level below the output holds user_key: a tombstone for it
  // may be dropped.
  bool IsBaseLevelForKey(std::string_view user_key);
  // True if the output should be cut before internal_key (it would overlap
  // too much of the grandparent level).
  bool ShouldStopBefore(std::string_view internal_key);
  // Drops the reference to the input version.
  void ReleaseInputs();
  Version* input_version() const { return input_version_; }

 private:
  friend class VersionSet;
  Compaction(const Options* options, int level, int output_level);

  int level_;
  int output_level_;
  uint64_t max_output_file_size_;
  Version* input_version_ = nullptr;
  VersionEdit edit_;
  // Leveled: inputs_[0] from level_, inputs_[1] from level_+1. Universal:
  // only all_inputs_ is used.
  std::vector<FileMetaData*> inputs_[2];
  // Every input with its level, in level order (what is deleted and merged).
  std::vector<std::pair<int, FileMetaData*>> all_inputs_;
  std::vector<FileMetaData*> grandparents_;
  size_t grandparent_index_ = 0;
  bool seen_key_ = false;
  bool allow_trivial_move_ = true;  // manual compactions rewrite (drop tombstones)
  int64_t overlapped_bytes_ = 0;
  uint64_t max_grandparent_overlap_bytes_;
  size_t level_ptrs_[kNumLevels] = {};
};

}  // namespace dkv::storage

// FaultInjectionEnv: an in-memory Env for tests and the simulator, with a disk
// that lies the way real disks do. It keeps, for every file, what the
// application has written and what is durable (as of the last Sync), and for
// the namespace, which entries are durable (as of the last SyncDir). Crash()
// throws away everything that was not durable; it can also tear the last
// write, flip bits, fill up (NoSpace) and fail writes. Time is virtual.
// Owned by the storage-io engineer. Thread-safe (one internal mutex); each
// file object is used by one thread at a time, and must not outlive the Env.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "common/random.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/env.h"

namespace dkv::storage {

class FaultInjectionEnv : public Env {
 public:
  explicit FaultInjectionEnv(int64_t start_micros = 0);
  ~FaultInjectionEnv() override;

  // --- Faults -------------------------------------------------------------

  // Simulated machine crash. Every file loses what was written since its
  // last Sync (a file never synced loses everything). A created, renamed,
  // linked or removed entry keeps its change only if SyncDir was called on
  // its directory after it, unless SetKeepUnsyncedDirEntries(true). File
  // objects and locks opened before the crash are dead afterwards: their
  // operations fail with IOError and change nothing, so a DB object torn
  // down after Crash() cannot write into the "rebooted" disk.
  void Crash();
  // While on, Crash() keeps a random prefix (chosen from an Rng seeded with
  // `seed`) of each file's bytes written since its last Sync. With one
  // unsynced write this is exactly "the last write is torn"; with several,
  // the earlier ones survive whole and a later one is cut.
  void SetTornWrites(bool on, uint64_t seed);
  // While on, Crash() keeps namespace changes not followed by SyncDir
  // (for tests that only care about file contents). Default off.
  void SetKeepUnsyncedDirEntries(bool on);
  // Flips bit `bit` (0..7) of the byte at `offset` in both the written and
  // the durable contents (media corruption). NotFound if no such file,
  // InvalidArgument if offset is past its end or bit is out of range.
  Status FlipBit(const std::string& path, uint64_t offset, int bit);
  // Cuts a file to `size` bytes, written and durable contents alike.
  // NotFound if no such file; InvalidArgument if size is past its end.
  Status TruncateFile(const std::string& path, uint64_t size);
  // Appends fail with Status::NoSpace (naming the file) once they would take
  // the bytes stored above `bytes`. 0 = no limit.
  void SetSpaceLimit(uint64_t bytes);
  // While on, every Append/Flush/Sync/SyncDir fails with IOError.
  void SetWriteErrors(bool on);
  // While on, every file Sync fails with IOError (appends still work): a
  // disk that takes the bytes but cannot make them durable.
  void SetSyncErrors(bool on);
  // Sum of the sizes of the files in the namespace (hard links count once).
  uint64_t BytesStored() const;

  // Virtual clock: NowMicros() returns it; SleepForMicros advances it.
  void AdvanceMicros(int64_t micros);

  // --- Env ------------------------------------------------------------------
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override;
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> ReopenForOverwrite(const std::string& path) override;
  bool FileExists(const std::string& path) override;
  Result<std::vector<std::string>> GetChildren(const std::string& dir) override;
  Status RemoveFile(const std::string& path) override;
  Status CreateDir(const std::string& dir) override;
  Status RemoveDir(const std::string& dir) override;
  Result<uint64_t> GetFileSize(const std::string& path) override;
  Status RenameFile(const std::string& src, const std::string& target) override;
  Status LinkFile(const std::string& src, const std::string& target) override;
  Status SyncDir(const std::string& dir) override;
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override;
  int64_t NowMicros() override;
  void SleepForMicros(int64_t micros) override;

  // Internal state, public only so the file classes in fault_env.cc can name it.
  struct FileState;
  class Handle;

 private:
  friend class Handle;
  Status CheckAlive(uint64_t epoch, const std::string& path) const REQUIRES(mu_);
  Status WriteAt(uint64_t epoch, const std::string& path, FileState* f, uint64_t offset,
                 std::string_view data) EXCLUDES(mu_);
  Status SyncFile(uint64_t epoch, const std::string& path, FileState* f) EXCLUDES(mu_);
  Status ReadAt(const std::string& path, FileState* f, uint64_t offset, size_t n,
                std::string_view* result, char* scratch) EXCLUDES(mu_);
  void ReleaseLock(uint64_t epoch, const std::string& path) EXCLUDES(mu_);
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, int mode);
  void AddLink(FileState* f) REQUIRES(mu_);
  void DropLink(FileState* f) REQUIRES(mu_);

  mutable Mutex mu_;
  // The namespace as the application sees it, and as it is durable.
  std::map<std::string, std::shared_ptr<FileState>> files_ GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<FileState>> durable_files_ GUARDED_BY(mu_);
  std::set<std::string> dirs_ GUARDED_BY(mu_);
  std::set<std::string> locks_ GUARDED_BY(mu_);
  uint64_t epoch_ GUARDED_BY(mu_) = 0;  // bumped by every Crash()
  uint64_t bytes_stored_ GUARDED_BY(mu_) = 0;
  uint64_t space_limit_ GUARDED_BY(mu_) = 0;
  bool write_errors_ GUARDED_BY(mu_) = false;
  bool sync_errors_ GUARDED_BY(mu_) = false;
  bool torn_writes_ GUARDED_BY(mu_) = false;
  bool keep_unsynced_dir_entries_ GUARDED_BY(mu_) = false;
  Rng torn_rng_ GUARDED_BY(mu_){0};
  int64_t now_micros_ GUARDED_BY(mu_);
};

// Convenience for code that holds an Env* (see env.h).
std::unique_ptr<FaultInjectionEnv> NewFaultInjectionEnv(int64_t start_micros = 0);

}  // namespace dkv::storage

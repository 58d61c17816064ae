// FaultInjectionEnv (see fault_env.h). Owned by the storage-io engineer.
//
// Model: a FileState is an inode with two contents, `data` (what reads see)
// and `durable` (what survives a crash). Writes go to `data` and widen the
// dirty range [dirty_lo, dirty_hi); Sync copies just that range to `durable`,
// so a sync costs what was written since the previous one, not the file's
// size. The namespace is two maps, `files_` (what the application sees) and
// `durable_files_` (what survives), the latter updated per directory by
// SyncDir. Crash() replaces the first of each pair by the second.
#include "storage/fault_env.h"

#include <algorithm>
#include <cstring>

namespace dkv::storage {

struct FaultInjectionEnv::FileState {
  std::string data;
  std::string durable;
  bool dirty = false;
  uint64_t dirty_lo = 0;
  uint64_t dirty_hi = 0;
  int links = 0;  // names in files_ that refer to this inode
};

namespace {

std::string StripSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string_view ParentDir(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return {};
  if (slash == 0) return path.substr(0, 1);  // "/x" lives in "/"
  return path.substr(0, slash);
}

}  // namespace

// The only door from the file objects into the Env's private methods.
class FaultInjectionEnv::Handle {
 protected:
  Handle(FaultInjectionEnv* env, std::string path, std::shared_ptr<FileState> state)
      : env_(env), path_(std::move(path)), state_(std::move(state)) {}

  Status Write(uint64_t epoch, uint64_t offset, std::string_view data) {
    return env_->WriteAt(epoch, path_, state_.get(), offset, data);
  }
  Status Sync(uint64_t epoch) { return env_->SyncFile(epoch, path_, state_.get()); }
  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const {
    return env_->ReadAt(path_, state_.get(), offset, n, result, scratch);
  }
  Status Alive(uint64_t epoch) const {
    MutexLock l(&env_->mu_);
    return env_->CheckAlive(epoch, path_);
  }
  static void ReleaseLock(FaultInjectionEnv* env, uint64_t epoch, const std::string& path) {
    env->ReleaseLock(epoch, path);
  }

  FaultInjectionEnv* const env_;
  const std::string path_;
  const std::shared_ptr<FileState> state_;  // keeps an unlinked inode readable
};

namespace {

class FaultSequentialFile final : public SequentialFile, FaultInjectionEnv::Handle {
 public:
  FaultSequentialFile(FaultInjectionEnv* env, std::string path,
                      std::shared_ptr<FaultInjectionEnv::FileState> state)
      : Handle(env, std::move(path), std::move(state)) {}

  Status Read(size_t n, std::string_view* result, char* scratch) override {
    DKV_RETURN_IF_ERROR(Handle::Read(pos_, n, result, scratch));
    pos_ += result->size();
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    pos_ += n;
    return Status::OK();
  }

 private:
  uint64_t pos_ = 0;
};

class FaultRandomAccessFile final : public RandomAccessFile, FaultInjectionEnv::Handle {
 public:
  FaultRandomAccessFile(FaultInjectionEnv* env, std::string path,
                        std::shared_ptr<FaultInjectionEnv::FileState> state)
      : Handle(env, std::move(path), std::move(state)) {}

  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    return Handle::Read(offset, n, result, scratch);
  }
};

class FaultWritableFile final : public WritableFile, FaultInjectionEnv::Handle {
 public:
  FaultWritableFile(FaultInjectionEnv* env, std::string path,
                    std::shared_ptr<FaultInjectionEnv::FileState> state, uint64_t epoch,
                    uint64_t pos)
      : Handle(env, std::move(path), std::move(state)), epoch_(epoch), pos_(pos) {}

  Status Append(std::string_view data) override {
    if (closed_) return Status::IOError(path_, "append after close");
    DKV_RETURN_IF_ERROR(Write(epoch_, pos_, data));
    pos_ += data.size();
    return Status::OK();
  }
  // There is no user-space buffer: an Append is already "in the kernel".
  Status Flush() override {
    if (closed_) return Status::IOError(path_, "flush after close");
    return Write(epoch_, pos_, {});
  }
  Status Sync() override {
    if (closed_) return Status::IOError(path_, "sync after close");
    return Handle::Sync(epoch_);
  }
  Status Close() override {
    closed_ = true;
    return Status::OK();
  }

 private:
  const uint64_t epoch_;
  uint64_t pos_;
  bool closed_ = false;
};

class FaultFileLock final : public FileLock, FaultInjectionEnv::Handle {
 public:
  FaultFileLock(FaultInjectionEnv* env, std::string path, uint64_t epoch)
      : Handle(env, std::move(path), nullptr), epoch_(epoch) {}
  ~FaultFileLock() override { ReleaseLock(env_, epoch_, path_); }

 private:
  const uint64_t epoch_;
};

}  // namespace

FaultInjectionEnv::FaultInjectionEnv(int64_t start_micros) : now_micros_(start_micros) {}

FaultInjectionEnv::~FaultInjectionEnv() = default;

std::unique_ptr<FaultInjectionEnv> NewFaultInjectionEnv(int64_t start_micros) {
  return std::make_unique<FaultInjectionEnv>(start_micros);
}

// --- Faults ------------------------------------------------------------------

void FaultInjectionEnv::Crash() {
  MutexLock l(&mu_);
  epoch_++;
  locks_.clear();  // the process that held them is gone
  if (keep_unsynced_dir_entries_) {
    durable_files_ = files_;
  } else {
    files_ = durable_files_;
  }
  bytes_stored_ = 0;
  std::set<FileState*> seen;
  for (auto& [path, f] : files_) {
    if (!seen.insert(f.get()).second) {
      f->links++;
      continue;
    }
    if (f->dirty && torn_writes_) {
      // Keep a random prefix of the dirty range, as a disk that wrote back
      // some sectors in order and then lost power would.
      DKV_ASSERT(f->dirty_lo <= f->dirty_hi);
      DKV_ASSERT(f->dirty_hi <= f->data.size());
      uint64_t keep = torn_rng_.Uniform(f->dirty_hi - f->dirty_lo + 1);
      uint64_t end = f->dirty_lo + keep;
      if (f->durable.size() < end) f->durable.resize(end);
      std::memcpy(f->durable.data() + f->dirty_lo, f->data.data() + f->dirty_lo, keep);
    }
    f->data = f->durable;
    f->dirty = false;
    f->links = 1;
    bytes_stored_ += f->data.size();
  }
  // Inodes only in the lost namespace are unreachable now; their handles are dead.
}

void FaultInjectionEnv::SetTornWrites(bool on, uint64_t seed) {
  MutexLock l(&mu_);
  torn_writes_ = on;
  torn_rng_.Seed(seed);
}

void FaultInjectionEnv::SetKeepUnsyncedDirEntries(bool on) {
  MutexLock l(&mu_);
  keep_unsynced_dir_entries_ = on;
}

Status FaultInjectionEnv::FlipBit(const std::string& path, uint64_t offset, int bit) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  FileState* f = it->second.get();
  if (bit < 0 || bit > 7) return Status::InvalidArgument(path, "bit must be 0..7");
  if (offset >= f->data.size()) return Status::InvalidArgument(path, "offset past end of file");
  const char mask = static_cast<char>(1u << bit);
  f->data[offset] ^= mask;
  if (offset < f->durable.size()) f->durable[offset] ^= mask;
  return Status::OK();
}

Status FaultInjectionEnv::TruncateFile(const std::string& path, uint64_t size) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  FileState* f = it->second.get();
  if (size > f->data.size()) return Status::InvalidArgument(path, "size past end of file");
  bytes_stored_ -= f->data.size() - size;
  f->data.resize(size);
  if (f->durable.size() > size) f->durable.resize(size);
  f->dirty_hi = std::min<uint64_t>(f->dirty_hi, size);
  f->dirty_lo = std::min(f->dirty_lo, f->dirty_hi);
  return Status::OK();
}

void FaultInjectionEnv::SetSpaceLimit(uint64_t bytes) {
  MutexLock l(&mu_);
  space_limit_ = bytes;
}

void FaultInjectionEnv::SetWriteErrors(bool on) {
  MutexLock l(&mu_);
  write_errors_ = on;
}

void FaultInjectionEnv::SetSyncErrors(bool on) {
  MutexLock l(&mu_);
  sync_errors_ = on;
}

uint64_t FaultInjectionEnv::BytesStored() const {
  MutexLock l(&mu_);
  return bytes_stored_;
}

void FaultInjectionEnv::AdvanceMicros(int64_t micros) {
  MutexLock l(&mu_);
  DKV_ASSERT(micros >= 0);
  now_micros_ += micros;
}

int64_t FaultInjectionEnv::NowMicros() {
  MutexLock l(&mu_);
  return now_micros_;
}

void FaultInjectionEnv::SleepForMicros(int64_t micros) { AdvanceMicros(micros); }

// --- File I/O ------------------------------------------------------------------

Status FaultInjectionEnv::CheckAlive(uint64_t epoch, const std::string& path) const {
  if (epoch != epoch_) return Status::IOError(path, "file opened before a simulated crash");
  return Status::OK();
}

Status FaultInjectionEnv::WriteAt(uint64_t epoch, const std::string& path, FileState* f,
                                  uint64_t offset, std::string_view data) {
  MutexLock l(&mu_);
  DKV_RETURN_IF_ERROR(CheckAlive(epoch, path));
  if (write_errors_) return Status::IOError(path, "injected write error");
  DKV_ASSERT(offset <= f->data.size());  // handles write sequentially
  if (data.empty()) return Status::OK();
  const uint64_t end = offset + data.size();
  const uint64_t growth = end > f->data.size() ? end - f->data.size() : 0;
  if (f->links > 0 && space_limit_ > 0 && bytes_stored_ + growth > space_limit_) {
    return Status::NoSpace(
        path, "no space left on device (space limit " + std::to_string(space_limit_) + " bytes)");
  }
  if (growth > 0) f->data.resize(end);
  std::memcpy(f->data.data() + offset, data.data(), data.size());
  if (f->links > 0) bytes_stored_ += growth;
  if (!f->dirty) {
    f->dirty = true;
    f->dirty_lo = offset;
    f->dirty_hi = end;
  } else {
    f->dirty_lo = std::min(f->dirty_lo, offset);
    f->dirty_hi = std::max(f->dirty_hi, end);
  }
  return Status::OK();
}

Status FaultInjectionEnv::SyncFile(uint64_t epoch, const std::string& path, FileState* f) {
  MutexLock l(&mu_);
  DKV_RETURN_IF_ERROR(CheckAlive(epoch, path));
  if (write_errors_ || sync_errors_) return Status::IOError(path, "injected sync error");
  if (!f->dirty) return Status::OK();
  DKV_ASSERT(f->dirty_hi <= f->data.size());
  if (f->durable.size() < f->data.size()) f->durable.resize(f->data.size());
  std::memcpy(f->durable.data() + f->dirty_lo, f->data.data() + f->dirty_lo,
              f->dirty_hi - f->dirty_lo);
  f->dirty = false;
  // Not DKV_DASSERT(durable == data): that is O(file size) per sync, and the
  // simulator syncs often even in Debug builds.
  DKV_ASSERT(f->durable.size() == f->data.size());
  return Status::OK();
}

Status FaultInjectionEnv::ReadAt(const std::string& path, FileState* f, uint64_t offset, size_t n,
                                 std::string_view* result, char* scratch) {
  MutexLock l(&mu_);
  if (offset >= f->data.size()) {
    *result = {};
    return Status::OK();
  }
  size_t got = std::min<uint64_t>(n, f->data.size() - offset);
  std::memcpy(scratch, f->data.data() + offset, got);
  *result = std::string_view(scratch, got);
  return Status::OK();
}

void FaultInjectionEnv::ReleaseLock(uint64_t epoch, const std::string& path) {
  MutexLock l(&mu_);
  if (epoch == epoch_) locks_.erase(path);
}

void FaultInjectionEnv::AddLink(FileState* f) {
  if (f->links++ == 0) bytes_stored_ += f->data.size();
}

void FaultInjectionEnv::DropLink(FileState* f) {
  DKV_ASSERT(f->links > 0);
  if (--f->links == 0) bytes_stored_ -= f->data.size();
}

// --- Env -----------------------------------------------------------------------

Result<std::unique_ptr<SequentialFile>> FaultInjectionEnv::NewSequentialFile(
    const std::string& path) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  return std::unique_ptr<SequentialFile>(new FaultSequentialFile(this, path, it->second));
}

Result<std::unique_ptr<RandomAccessFile>> FaultInjectionEnv::NewRandomAccessFile(
    const std::string& path) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  return std::unique_ptr<RandomAccessFile>(new FaultRandomAccessFile(this, path, it->second));
}

namespace {
enum OpenMode { kTruncate, kAppend, kOverwrite };
}  // namespace

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenWritable(const std::string& path,
                                                                      int mode) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  std::shared_ptr<FileState> f;
  if (it == files_.end()) {
    if (mode == kOverwrite) return Status::NotFound(path, "no such file");
    f = std::make_shared<FileState>();
    files_[path] = f;
    AddLink(f.get());
  } else {
    f = it->second;
    if (mode == kTruncate) {
      // The truncation itself is treated as durable at once (ext4 commits
      // it with the journal); what is written afterwards is not.
      bytes_stored_ -= f->links > 0 ? f->data.size() : 0;
      f->data.clear();
      f->durable.clear();
      f->dirty = false;
    }
  }
  uint64_t pos = mode == kAppend ? f->data.size() : 0;
  return std::unique_ptr<WritableFile>(new FaultWritableFile(this, path, f, epoch_, pos));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewWritableFile(const std::string& path) {
  return OpenWritable(path, kTruncate);
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::NewAppendableFile(
    const std::string& path) {
  return OpenWritable(path, kAppend);
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::ReopenForOverwrite(
    const std::string& path) {
  return OpenWritable(path, kOverwrite);
}

bool FaultInjectionEnv::FileExists(const std::string& path) {
  MutexLock l(&mu_);
  return files_.count(path) > 0 || dirs_.count(StripSlashes(path)) > 0;
}

Result<std::vector<std::string>> FaultInjectionEnv::GetChildren(const std::string& dir_in) {
  const std::string dir = StripSlashes(dir_in);
  const std::string prefix = dir == "/" ? dir : dir + "/";
  MutexLock l(&mu_);
  std::set<std::string> names;
  auto collect = [&](const std::string& path) {
    std::string rest = path.substr(prefix.size());
    size_t slash = rest.find('/');
    names.insert(slash == std::string::npos ? rest : rest.substr(0, slash));
  };
  for (auto it = files_.lower_bound(prefix);
       it != files_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    collect(it->first);
  }
  for (auto it = dirs_.lower_bound(prefix);
       it != dirs_.end() && it->compare(0, prefix.size(), prefix) == 0; ++it) {
    collect(*it);
  }
  if (names.empty() && dirs_.count(dir) == 0) return Status::NotFound(dir, "no such directory");
  return std::vector<std::string>(names.begin(), names.end());
}

Status FaultInjectionEnv::RemoveFile(const std::string& path) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  DropLink(it->second.get());
  files_.erase(it);
  return Status::OK();
}

Status FaultInjectionEnv::CreateDir(const std::string& dir) {
  MutexLock l(&mu_);
  dirs_.insert(StripSlashes(dir));  // directories are durable at once (simplification)
  return Status::OK();
}

Status FaultInjectionEnv::RemoveDir(const std::string& dir_in) {
  const std::string dir = StripSlashes(dir_in);
  MutexLock l(&mu_);
  if (dirs_.count(dir) == 0) return Status::NotFound(dir, "no such directory");
  const std::string prefix = dir + "/";
  auto f = files_.lower_bound(prefix);
  auto d = dirs_.lower_bound(prefix);
  if ((f != files_.end() && f->first.compare(0, prefix.size(), prefix) == 0) ||
      (d != dirs_.end() && d->compare(0, prefix.size(), prefix) == 0)) {
    return Status::IOError(dir, "directory not empty");
  }
  dirs_.erase(dir);
  return Status::OK();
}

Result<uint64_t> FaultInjectionEnv::GetFileSize(const std::string& path) {
  MutexLock l(&mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return Status::NotFound(path, "no such file");
  return static_cast<uint64_t>(it->second->data.size());
}

Status FaultInjectionEnv::RenameFile(const std::string& src, const std::string& target) {
  MutexLock l(&mu_);
  auto it = files_.find(src);
  if (it == files_.end()) return Status::NotFound(src, "no such file");
  if (src == target) return Status::OK();
  std::shared_ptr<FileState> f = it->second;
  files_.erase(it);
  auto old = files_.find(target);
  if (old != files_.end()) {
    DropLink(old->second.get());
    old->second = f;
  } else {
    files_[target] = f;
  }
  return Status::OK();
}

Status FaultInjectionEnv::LinkFile(const std::string& src, const std::string& target) {
  MutexLock l(&mu_);
  auto it = files_.find(src);
  if (it == files_.end()) return Status::NotFound(src, "no such file");
  if (files_.count(target) > 0) return Status::IOError(target, "file exists");
  files_[target] = it->second;
  AddLink(it->second.get());
  return Status::OK();
}

Status FaultInjectionEnv::SyncDir(const std::string& dir_in) {
  const std::string dir = StripSlashes(dir_in);
  MutexLock l(&mu_);
  if (write_errors_) return Status::IOError(dir, "injected dir sync error");
  for (auto it = durable_files_.begin(); it != durable_files_.end();) {
    if (ParentDir(it->first) == dir) {
      it = durable_files_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [path, f] : files_) {
    if (ParentDir(path) == dir) durable_files_[path] = f;
  }
  return Status::OK();
}

Result<std::unique_ptr<FileLock>> FaultInjectionEnv::LockFile(const std::string& path) {
  MutexLock l(&mu_);
  if (!locks_.insert(path).second) {
    return Status::Busy(path, "lock already held (is the DB open twice?)");
  }
  if (files_.count(path) == 0) {
    auto f = std::make_shared<FileState>();
    files_[path] = f;
    AddLink(f.get());
  }
  return std::unique_ptr<FileLock>(new FaultFileLock(this, path, epoch_));
}

}  // namespace dkv::storage

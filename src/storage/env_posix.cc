// Env::Posix(): the real file system. Owned by the storage-io engineer.
//
// Writable files keep a 64 KiB user-space buffer so that a WAL record append
// is a memcpy, not a write(2); Flush pushes it to the kernel and Sync adds
// fdatasync. Random-access files (SSTables) are memory-mapped, up to
// kMaxMappedRandomAccessFiles at once, so that table reads are in place with
// no copy (StableResults()); beyond that, and for empty files, a read is one
// pread into the caller's scratch. Every error goes through
// Status::FromErrno with the path in it, so ENOSPC becomes NoSpace naming the
// file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "common/assert.h"
#include "common/clock.h"
#include "common/thread_annotations.h"
#include "storage/env.h"

namespace dkv::storage {

namespace {

// User-space write buffer per writable file. 64 KiB holds two WAL blocks,
// and is a size at which write(2) cost per byte is already flat.
constexpr size_t kWritableBufferBytes = 64 * 1024;

// How many random-access files may be memory-mapped at once; the rest use
// pread. Each mapping costs address space (a table is a few MiB) and one of
// the kernel's per-process mappings (vm.max_map_count, 65530 by default), so
// the count is bounded: 1000 tables of 2 MiB is 2 GiB of address space, which
// is nothing on 64 bits. On 32 bits there is no address space to spare and
// nothing is mapped. LevelDB uses the same bound.
constexpr int kMaxMappedRandomAccessFiles = sizeof(void*) >= 8 ? 1000 : 0;

Status PosixError(const std::string& path, const char* op, int err) {
  // e.g. "NoSpace: write /db/000042.log: No space left on device"
  return Status::FromErrno(std::string(op) + " " + path, err);
}

// Retries on EINTR; returns -1 with errno set on failure.
ssize_t RetryRead(int fd, char* buf, size_t n) {
  for (;;) {
    ssize_t r = ::read(fd, buf, n);
    if (r >= 0 || errno != EINTR) return r;
  }
}

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status Read(size_t n, std::string_view* result, char* scratch) override {
    // Loop so that a short read really means end of file, as promised.
    size_t got = 0;
    while (got < n) {
      ssize_t r = RetryRead(fd_, scratch + got, n - got);
      if (r < 0) {
        *result = {};
        return PosixError(path_, "read", errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

  Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) == static_cast<off_t>(-1)) {
      return PosixError(path_, "skip", errno);
    }
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = {};
        return PosixError(path_, "pread", errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

 private:
  const std::string path_;
  const int fd_;
};

// Process-wide count of mapping slots left (Env::Posix() is process-wide).
class MmapLimiter {
 public:
  // True if a slot was taken; the caller must Release it when unmapping.
  bool Acquire() {
    int left = left_.load(std::memory_order_relaxed);
    while (left > 0) {
      if (left_.compare_exchange_weak(left, left - 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  void Release() {
    const int before = left_.fetch_add(1, std::memory_order_release);
    DKV_ASSERT(before < kMaxMappedRandomAccessFiles);
  }

 private:
  std::atomic<int> left_{kMaxMappedRandomAccessFiles};
};

MmapLimiter* Mmaps() {
  static MmapLimiter* limiter = new MmapLimiter();  // never deleted: outlives all files
  return limiter;
}

// A read-only mapping of a whole file, taken at open: reads return pointers
// into it. The file must not shrink while mapped (a read of a page past the
// new end would raise SIGBUS); tables are immutable once written, so it does
// not. Holds one MmapLimiter slot.
class PosixMmapRandomAccessFile final : public RandomAccessFile {
 public:
  // REQUIRES: base maps exactly length > 0 bytes; a slot is held for it.
  PosixMmapRandomAccessFile(const char* base, size_t length) : base_(base), length_(length) {
    DKV_ASSERT(base_ != nullptr);
    DKV_ASSERT(length_ > 0);
  }
  ~PosixMmapRandomAccessFile() override {
    ::munmap(const_cast<char*>(base_), length_);
    Mmaps()->Release();
  }

  Status Read(uint64_t offset, size_t n, std::string_view* result,
              char* /*scratch*/) const override {
    // As with pread, a read that crosses the end is short, and one that
    // starts past it is empty.
    if (offset >= length_) {
      *result = {};
      return Status::OK();
    }
    const size_t avail = length_ - static_cast<size_t>(offset);
    *result = std::string_view(base_ + offset, std::min(n, avail));
    return Status::OK();
  }

  bool StableResults() const override { return true; }

 private:
  const char* const base_;
  const size_t length_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd)
      : path_(std::move(path)), fd_(fd), buffer_(new char[kWritableBufferBytes]) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) Close().IgnoreError();  // the owner chose not to hear about it
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::IOError(path_, "append after close");
    // Fast path: the whole append fits in the buffer.
    size_t copy = std::min(data.size(), kWritableBufferBytes - used_);
    std::memcpy(buffer_.get() + used_, data.data(), copy);
    used_ += copy;
    data.remove_prefix(copy);
    if (data.empty()) return Status::OK();
    DKV_RETURN_IF_ERROR(FlushBuffer());
    // What is left: small goes in the buffer, large straight to the kernel.
    if (data.size() < kWritableBufferBytes) {
      std::memcpy(buffer_.get(), data.data(), data.size());
      used_ = data.size();
      return Status::OK();
    }
    return WriteRaw(data.data(), data.size());
  }

  Status Flush() override {
    if (fd_ < 0) return Status::IOError(path_, "flush after close");
    return FlushBuffer();
  }

  void StartWriteBack() override {
    // Errors are Sync's to report (it writes whatever this did not).
    if (fd_ >= 0 && used_ == 0) ::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
  }
  Status Sync() override {
    if (fd_ < 0) return Status::IOError(path_, "sync after close");
    DKV_RETURN_IF_ERROR(FlushBuffer());
    if (::fdatasync(fd_) != 0) return PosixError(path_, "fdatasync", errno);
    return Status::OK();
  }

  Status Close() override {
    if (fd_ < 0) return Status::OK();
    Status s = FlushBuffer();
    if (::close(fd_) != 0 && s.ok()) s = PosixError(path_, "close", errno);
    fd_ = -1;
    return s;
  }

 private:
  Status FlushBuffer() {
    Status s = WriteRaw(buffer_.get(), used_);
    used_ = 0;  // on error the bytes are lost either way; the caller must not go on
    return s;
  }

  Status WriteRaw(const char* p, size_t n) {
    while (n > 0) {
      ssize_t r = ::write(fd_, p, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError(path_, "write", errno);
      }
      p += r;
      n -= static_cast<size_t>(r);
    }
    return Status::OK();
  }

  const std::string path_;
  int fd_;
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
};

// fcntl locks belong to the process, so a second F_SETLK from this process
// would succeed; this set catches a second DB open in the same process.
class LockTable {
 public:
  bool Insert(const std::string& path) {
    MutexLock l(&mu_);
    return paths_.insert(path).second;
  }
  void Remove(const std::string& path) {
    MutexLock l(&mu_);
    paths_.erase(path);
  }

 private:
  Mutex mu_;
  std::set<std::string> paths_ GUARDED_BY(mu_);
};

LockTable* Locks() {
  static LockTable* table = new LockTable();  // never deleted: outlives all locks
  return table;
}

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFileLock() override {
    struct flock f = {};
    f.l_type = F_UNLCK;
    f.l_whence = SEEK_SET;
    ::fcntl(fd_, F_SETLK, &f);
    ::close(fd_);
    Locks()->Remove(path_);
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path, "open", errno);
    return std::unique_ptr<SequentialFile>(new PosixSequentialFile(path, fd));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError(path, "open", errno);
    if (!Mmaps()->Acquire()) {
      return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      Mmaps()->Release();
      return PosixError(path, "fstat", err);
    }
    if (st.st_size == 0) {  // mmap refuses length 0; nothing to read anyway
      Mmaps()->Release();
      return std::unique_ptr<RandomAccessFile>(new PosixRandomAccessFile(path, fd));
    }
    const size_t length = static_cast<size_t>(st.st_size);
    void* base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
    const int err = errno;
    ::close(fd);  // the mapping keeps the file open
    if (base == MAP_FAILED) {
      Mmaps()->Release();
      return PosixError(path, "mmap", err);
    }
    return std::unique_ptr<RandomAccessFile>(
        new PosixMmapRandomAccessFile(static_cast<const char*>(base), length));
  }

  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return OpenWritable(path, O_WRONLY | O_CREAT | O_TRUNC);
  }
  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return OpenWritable(path, O_WRONLY | O_CREAT | O_APPEND);
  }
  Result<std::unique_ptr<WritableFile>> ReopenForOverwrite(const std::string& path) override {
    // No O_CREAT: the point is to reuse blocks that already exist.
    return OpenWritable(path, O_WRONLY);
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError(dir, "opendir", errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      names.emplace_back(e->d_name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return PosixError(dir, "readdir", err);
    return names;
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError(path, "unlink", errno);
    return Status::OK();
  }

  Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) != 0) {
      if (errno == EEXIST) {
        struct stat st;
        if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::OK();
        return Status::IOError(dir, "exists and is not a directory");
      }
      return PosixError(dir, "mkdir", errno);
    }
    return Status::OK();
  }

  Status RemoveDir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return PosixError(dir, "rmdir", errno);
    return Status::OK();
  }

  Result<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError(path, "stat", errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Status RenameFile(const std::string& src, const std::string& target) override {
    if (::rename(src.c_str(), target.c_str()) != 0) {
      return PosixError(src, ("rename to " + target).c_str(), errno);
    }
    return Status::OK();
  }

  Status LinkFile(const std::string& src, const std::string& target) override {
    if (::link(src.c_str(), target.c_str()) != 0) {
      int err = errno;
      if (err == EXDEV || err == EPERM || err == EOPNOTSUPP || err == EMLINK) {
        return Status::NotSupported(src, "hard link to " + target + ": " + std::strerror(err));
      }
      return PosixError(src, ("link to " + target).c_str(), err);
    }
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError(dir, "open dir", errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError(dir, "fsync dir", errno);
    ::close(fd);
    return s;
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    if (!Locks()->Insert(path)) {
      return Status::Busy(path, "lock already held by this process (is the DB open twice?)");
    }
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      Locks()->Remove(path);
      return PosixError(path, "open lock file", errno);
    }
    struct flock f = {};
    f.l_type = F_WRLCK;
    f.l_whence = SEEK_SET;
    if (::fcntl(fd, F_SETLK, &f) != 0) {
      int err = errno;
      ::close(fd);
      Locks()->Remove(path);
      if (err == EAGAIN || err == EACCES) {
        return Status::Busy(path, "lock held by another process (is another server running?)");
      }
      return PosixError(path, "fcntl lock", err);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(path, fd));
  }

  int64_t NowMicros() override { return SystemClock::Default()->NowMicros(); }

  void SleepForMicros(int64_t micros) override {
    std::this_thread::sleep_for(std::chrono::microseconds(micros));
  }

 private:
  Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, int flags) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError(path, "open", errno);
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd));
  }
};

}  // namespace

Env* Env::Posix() {
  static PosixEnv* env = new PosixEnv();  // never deleted, per env.h
  return env;
}

}  // namespace dkv::storage

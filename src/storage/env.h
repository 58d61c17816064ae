// Env: everything the storage engine asks of the operating system.
//
// The engine never calls POSIX directly; it goes through an Env, in the manner
// of LevelDB's. Env::Posix() is the real one. NewFaultInjectionEnv() (see
// fault_env.h) is an in-memory file system that can forget everything written
// since the last Sync on a simulated crash, tear the last write, flip bits and
// fail writes with a full disk; tests and the simulator use it.
//
// Env methods are thread-safe. A file object is used by one thread at a time.
// Every method that can fail returns a Status naming the file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dkv::storage {

// Read front to back (WAL and manifest recovery).
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes into scratch; *result points at the bytes read (maybe
  // into scratch). A short read (fewer than n) means end of file. REQUIRES:
  // scratch has room for n bytes.
  virtual Status Read(size_t n, std::string_view* result, char* scratch) = 0;
  // Skips n bytes forward.
  virtual Status Skip(uint64_t n) = 0;
};

// Positional reads (SSTables). Safe for concurrent readers.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset. A result shorter than n means the read
  // crossed end of file. REQUIRES: scratch has room for n bytes.
  virtual Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const = 0;
  // True if every successful Read sets *result to point into memory owned by
  // this file (never into scratch) that stays valid and unchanged until the
  // file is destroyed, as for a memory-mapped file. A reader may then keep
  // such a result without copying it, and may pass scratch = nullptr.
  virtual bool StableResults() const { return false; }
};

// Append-only writes (WAL, SSTables, manifest).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status Append(std::string_view data) = 0;
  // Pushes buffered bytes to the OS (not durable until Sync).
  virtual Status Flush() = 0;
  // Makes every byte appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  // Starts writing the bytes already pushed to the OS to the device, without
  // waiting (Linux: sync_file_range WRITE). Only a head start for the next
  // Sync, which still does the work and reports errors. Default: nothing.
  virtual void StartWriteBack() {}
  virtual Status Close() = 0;
};

// An advisory whole-file lock held for the life of an open DB.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never deleted.
  static Env* Posix();

  virtual Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) = 0;
  // For immutable files (SSTables): an Env may map the file, so it must not
  // shrink while open, and bytes appended after open may stay invisible.
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // Creates or truncates.
  virtual Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Opens for append, creating if missing.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Opens an existing file for writing from offset 0 WITHOUT truncating it:
  // bytes past what is written keep their old contents. Used for WAL
  // segments that were zero-filled ahead of time or recycled, so that each
  // sync is an overwrite (no file-size metadata to commit), which costs about
  // half of an append+sync on ext4. NotFound if the file does not exist.
  virtual Result<std::unique_ptr<WritableFile>> ReopenForOverwrite(const std::string& path) = 0;

  virtual bool FileExists(const std::string& path) = 0;
  // Names (not paths) of the entries of dir, without "." and "..".
  virtual Result<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Creates dir; OK if it already exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  virtual Status RemoveDir(const std::string& dir) = 0;
  virtual Result<uint64_t> GetFileSize(const std::string& path) = 0;
  // Atomically replaces target with src.
  virtual Status RenameFile(const std::string& src, const std::string& target) = 0;
  // Hard link (checkpoints). NotSupported if the file system cannot.
  virtual Status LinkFile(const std::string& src, const std::string& target) = 0;
  // Makes a directory's entries (creates, renames, removes) durable.
  virtual Status SyncDir(const std::string& dir) = 0;

  // Busy if another process (or another open DB in this one) holds it.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;

  virtual int64_t NowMicros() = 0;
  virtual void SleepForMicros(int64_t micros) = 0;
};

// Helpers built on any Env.
Status WriteStringToFile(Env* env, std::string_view data, const std::string& path, bool sync);
Result<std::string> ReadFileToString(Env* env, const std::string& path);

}  // namespace dkv::storage

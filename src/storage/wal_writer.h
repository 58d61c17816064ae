// WalWriter appends records to a write-ahead log (or manifest) file in the
// block format of wal_format.h / docs/formats/wal.md. The file is owned by the
// caller and must outlive the writer. AddRecord only appends to the file's
// user-space buffer (no syscall per record); Sync makes everything durable.
// Not thread-safe: the DB serialises writers (the group-commit leader).
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "storage/env.h"
#include "storage/wal_format.h"

namespace dkv::storage {

class WalWriter {
 public:
  // dest: not owned, must outlive the writer. log_number: the file's number;
  // its low 32 bits go in every header. dest_length: bytes already written
  // to dest by THIS log (0 for a new, pre-zeroed or recycled file).
  WalWriter(WritableFile* dest, uint64_t log_number, uint64_t dest_length = 0);

  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;

  // Appends one record (any size, including empty), split into fragments
  // across blocks. Not durable until Sync. After any error the writer is
  // poisoned: every later call returns the first error, because the file's
  // tail is no longer known and the DB must switch to a new log.
  Status AddRecord(std::string_view record);

  // Hands every record added so far to the OS (no fsync): a process crash
  // no longer loses them, a machine crash still may.
  Status Flush();

  // Flush + Sync of the file: every record added so far becomes durable.
  Status Sync();
  // Flush, then a head start of the device write for the next Sync
  // (WritableFile::StartWriteBack).
  Status StartWriteBack();

  uint64_t log_number() const { return log_number_; }
  // Bytes written by this log so far (including dest_length), i.e. the
  // offset at which the next fragment header (or block padding) goes.
  uint64_t size() const { return size_; }

 private:
  Status EmitFragment(wal::RecordType type, const char* data, size_t length);

  WritableFile* const dest_;
  const uint64_t log_number_;
  uint64_t size_;
  size_t block_offset_;  // offset of the write position within its block
  Status error_;         // sticky first error (see AddRecord)
};

}  // namespace dkv::storage

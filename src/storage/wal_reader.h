// WalReader reads back the records a WalWriter wrote (WAL or manifest),
// front to back, from a SequentialFile that the caller owns and that must
// outlive the reader. It tells a clean end of log (a torn tail, a zeroed
// region, stale records of an older log in a recycled file) apart from
// corruption in the middle, which it reports to the Reporter with the file
// name and offset before skipping to the next 32 KiB block. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/env.h"
#include "storage/wal_format.h"

namespace dkv::storage {

class WalReader {
 public:
  // Told about bytes the reader had to drop in the middle of the log.
  class Reporter {
   public:
    virtual ~Reporter() = default;
    // bytes: approximate bytes dropped; status says where and why, e.g.
    // Corruption("wal 000042.log", "checksum mismatch at 98304"). A read
    // error of the file is passed through as its own Status.
    virtual void Corruption(size_t bytes, const Status& status) = 0;
  };

  // file: not owned. file_name: used in messages. log_number: the number
  // expected in headers (only its low 32 bits are stored). reporter: may be
  // null, then drops are silent. verify_checksums=false skips the checksum
  // (stale records are then recognised by log number alone).
  WalReader(SequentialFile* file, std::string file_name, uint64_t log_number, Reporter* reporter,
            bool verify_checksums = true);
  ~WalReader();

  WalReader(const WalReader&) = delete;
  WalReader& operator=(const WalReader&) = delete;

  // Reads the next whole record into *record, which stays valid until the
  // next call and may point into *scratch or into the reader's block buffer.
  // Returns false at the end of the log; every later call also returns false.
  // A torn/incomplete record at the tail is the end of the log, not
  // corruption. A bad checksum or length in the middle (that is, with valid
  // records of this log after it) is reported and reading resumes at the
  // next block.
  bool ReadRecord(std::string_view* record, std::string* scratch);

  // File offset of the first fragment of the last record returned.
  uint64_t LastRecordOffset() const { return last_record_offset_; }

 private:
  // What ReadFragment found besides the RecordType values.
  enum FragmentResult : int {
    kEndOfLog = wal::kMaxRecordType + 1,     // EOF, torn tail, zeroes, stale record
    kBadFragment = wal::kMaxRecordType + 2,  // corrupt; already queued as pending
  };

  // Reads the next physical fragment into *fragment, returning its type or
  // one of FragmentResult. *fragment_offset is the header's file offset.
  int ReadFragment(std::string_view* fragment, uint64_t* fragment_offset);
  // Queues a drop that is reported only if a valid fragment of this log
  // follows (otherwise it was a torn tail).
  void AddPending(size_t bytes, std::string_view reason, uint64_t offset);
  void ReportPending();
  void ReportNow(size_t bytes, std::string_view reason, uint64_t offset);

  SequentialFile* const file_;
  const std::string where_;  // "wal <file_name>"
  const uint32_t log_number_;
  Reporter* const reporter_;
  const bool verify_checksums_;

  std::unique_ptr<char[]> backing_store_;  // one block
  std::string_view buffer_;                // unread part of the current block
  bool eof_ = false;                       // the last read returned a short block
  bool done_ = false;                      // ReadRecord returned false
  uint64_t end_of_buffer_offset_ = 0;      // file offset just past buffer_
  uint64_t last_record_offset_ = 0;

  // Corruption seen but not yet known to be in the middle of the log.
  size_t pending_bytes_ = 0;
  Status pending_status_;
};

}  // namespace dkv::storage

// WalReader (see wal_reader.h and docs/formats/wal.md). Owned by the
// storage-io engineer.
//
// The subtle part is telling "the log ends here" from "the log is damaged
// here". A torn tail, a zeroed (pre-allocated) region and the stale records
// of an older log in a recycled file all end the log silently. A fragment
// that fails its checksum or has an impossible length could be either a torn
// tail (in a recycled file the unwritten rest of a fragment holds old bytes)
// or damage in the middle; the reader cannot tell until it sees what
// follows. So such a drop is held as "pending" and reported only when a
// valid fragment of this log turns up after it; if the log ends first, the
// drop was the torn tail and is forgotten.
#include "storage/wal_reader.h"

#include <cstring>

#include "common/coding.h"
#include "common/hash.h"

namespace dkv::storage {

using wal::kBlockSize;
using wal::kHeaderSize;

WalReader::WalReader(SequentialFile* file, std::string file_name, uint64_t log_number,
                     Reporter* reporter, bool verify_checksums)
    : file_(file),
      where_("wal " + file_name),
      log_number_(static_cast<uint32_t>(log_number)),
      reporter_(reporter),
      verify_checksums_(verify_checksums),
      backing_store_(new char[kBlockSize]) {
  DKV_ASSERT(file != nullptr);
}

WalReader::~WalReader() = default;

bool WalReader::ReadRecord(std::string_view* record, std::string* scratch) {
  scratch->clear();
  *record = {};
  if (done_) return false;
  bool in_fragmented_record = false;
  uint64_t record_offset = 0;  // offset of the FIRST fragment being assembled
  // Bounded by the file: every iteration consumes at least a header or a block.
  for (;;) {
    std::string_view fragment;
    uint64_t fragment_offset = 0;
    const int type = ReadFragment(&fragment, &fragment_offset);
    switch (type) {
      case wal::kFullType:
        if (in_fragmented_record) {
          ReportNow(scratch->size(), "record without its last fragment", record_offset);
        }
        scratch->clear();
        *record = fragment;
        last_record_offset_ = fragment_offset;
        return true;

      case wal::kFirstType:
        if (in_fragmented_record) {
          ReportNow(scratch->size(), "record without its last fragment", record_offset);
        }
        record_offset = fragment_offset;
        scratch->assign(fragment.data(), fragment.size());
        in_fragmented_record = true;
        break;

      case wal::kMiddleType:
        if (!in_fragmented_record) {
          ReportNow(fragment.size(), "middle fragment without a first", fragment_offset);
        } else {
          scratch->append(fragment.data(), fragment.size());
        }
        break;

      case wal::kLastType:
        if (!in_fragmented_record) {
          ReportNow(fragment.size(), "last fragment without a first", fragment_offset);
          break;
        }
        scratch->append(fragment.data(), fragment.size());
        *record = *scratch;
        last_record_offset_ = record_offset;
        return true;

      case kBadFragment:
        // The record being assembled lost a piece; it goes with the drop.
        if (in_fragmented_record) {
          if (!pending_status_.ok()) {
            pending_bytes_ += scratch->size();
          } else {  // an unknown-type fragment, already known to be mid-log
            ReportNow(scratch->size(), "record without its last fragment", record_offset);
          }
          in_fragmented_record = false;
          scratch->clear();
        }
        break;

      case kEndOfLog:
        // An unfinished record or a pending drop here is the torn tail.
        pending_bytes_ = 0;
        pending_status_ = Status::OK();
        scratch->clear();
        done_ = true;
        return false;

      default:
        DKV_UNREACHABLE();
    }
  }
}

int WalReader::ReadFragment(std::string_view* fragment, uint64_t* fragment_offset) {
  for (;;) {
    if (buffer_.size() < kHeaderSize) {
      if (eof_) {
        // A header cut short by the end of the file: a torn write (or the
        // exact end of the log).
        buffer_ = {};
        return kEndOfLog;
      }
      // Fewer than kHeaderSize bytes left in a full block: zero padding.
      buffer_ = {};
      Status s = file_->Read(kBlockSize, &buffer_, backing_store_.get());
      if (!s.ok()) {
        buffer_ = {};
        eof_ = true;
        pending_bytes_ = 0;
        pending_status_ = Status::OK();
        if (reporter_ != nullptr) reporter_->Corruption(kBlockSize, s.WithContext(where_));
        return kEndOfLog;
      }
      end_of_buffer_offset_ += buffer_.size();
      if (buffer_.size() < kBlockSize) eof_ = true;
      continue;
    }

    const char* header = buffer_.data();
    const uint64_t offset = end_of_buffer_offset_ - buffer_.size();
    static constexpr char kZeroHeader[kHeaderSize] = {};
    if (std::memcmp(header, kZeroHeader, kHeaderSize) == 0) {
      // Never written: a pre-zeroed file, or a hole left by a crash.
      buffer_ = {};
      return kEndOfLog;
    }
    const size_t length =
        static_cast<uint8_t>(header[wal::kLengthOffset]) |
        (static_cast<size_t>(static_cast<uint8_t>(header[wal::kLengthOffset + 1])) << 8);
    const uint8_t type = static_cast<uint8_t>(header[wal::kTypeOffset]);
    const uint32_t number = DecodeFixed32(header + wal::kLogNumberOffset);

    if (kHeaderSize + length > buffer_.size()) {
      if (eof_) {
        // The fragment runs past the end of the file: a torn write.
        buffer_ = {};
        return kEndOfLog;
      }
      // In a full block no fragment can run past the block: the length is bad.
      const size_t drop = buffer_.size();
      buffer_ = {};
      AddPending(drop, "bad fragment length", offset);
      return kBadFragment;
    }

    const std::string_view payload(header + kHeaderSize, length);
    if (verify_checksums_) {
      const uint32_t expected = DecodeFixed32(header + wal::kChecksumOffset);
      const uint32_t actual = Checksum32(
          std::string_view(header + wal::kTypeOffset, wal::kChecksummedHeaderBytes), payload);
      if (actual != expected) {
        // The length may be the damaged field, so nothing after this header
        // in the block can be trusted: skip to the next block.
        const size_t drop = buffer_.size();
        buffer_ = {};
        AddPending(drop, "checksum mismatch", offset);
        return kBadFragment;
      }
    }

    if (number != log_number_) {
      // A valid fragment of an older log: this file was recycled and our
      // log ends here.
      buffer_ = {};
      return kEndOfLog;
    }

    buffer_.remove_prefix(kHeaderSize + length);
    // A valid fragment of this log: what was dropped before it was damage
    // in the middle of the log, not a torn tail.
    ReportPending();
    if (type == wal::kZeroType || type > wal::kMaxRecordType) {
      ReportNow(kHeaderSize + length, "unknown fragment type " + std::to_string(type), offset);
      return kBadFragment;
    }
    *fragment = payload;
    *fragment_offset = offset;
    return type;
  }
}

void WalReader::AddPending(size_t bytes, std::string_view reason, uint64_t offset) {
  if (pending_status_.ok()) {  // keep the first (earliest) reason
    pending_status_ =
        Status::Corruption(where_, std::string(reason) + " at " + std::to_string(offset));
  }
  pending_bytes_ += bytes;
}

void WalReader::ReportPending() {
  if (pending_status_.ok()) return;
  if (reporter_ != nullptr) reporter_->Corruption(pending_bytes_, pending_status_);
  pending_bytes_ = 0;
  pending_status_ = Status::OK();
}

void WalReader::ReportNow(size_t bytes, std::string_view reason, uint64_t offset) {
  if (reporter_ == nullptr) return;
  reporter_->Corruption(
      bytes, Status::Corruption(where_, std::string(reason) + " at " + std::to_string(offset)));
}

}  // namespace dkv::storage

#include "storage/version_edit.h"

#include <cinttypes>
#include <cstdio>

namespace dkv::storage {

namespace {
// Frozen tag values (on disk in every MANIFEST).
enum Tag : uint32_t {
  kComparator = 1,
  kLogNumber = 2,
  kNextFileNumber = 3,
  kLastSequence = 4,
  kCompactPointer = 5,
  kDeletedFile = 6,
  kNewFile = 7,
};

bool GetLevel(std::string_view* input, int* level) {
  uint32_t v;
  if (!GetVarint32(input, &v) || v >= static_cast<uint32_t>(kNumLevels)) return false;
  *level = static_cast<int>(v);
  return true;
}

bool GetInternalKey(std::string_view* input, std::string* dst) {
  std::string_view s;
  if (!GetLengthPrefixed(input, &s) || s.size() < kInternalKeyTrailerSize) return false;
  ParsedInternalKey parsed;
  if (!ParseInternalKey(s, &parsed)) return false;
  dst->assign(s.data(), s.size());
  return true;
}
}  // namespace

void VersionEdit::AddFile(int level, uint64_t number, uint64_t file_size, std::string_view smallest,
                          std::string_view largest) {
  DKV_ASSERT(level >= 0 && level < kNumLevels);
  DKV_ASSERT(smallest.size() >= kInternalKeyTrailerSize);
  FileMetaData f;
  f.number = number;
  f.file_size = file_size;
  f.smallest = std::string(smallest);
  f.largest = std::string(largest);
  new_files_.emplace_back(level, std::move(f));
}

void VersionEdit::EncodeTo(std::string* dst) const {
  if (comparator_) {
    PutVarint32(dst, kComparator);
    PutLengthPrefixed(dst, *comparator_);
  }
  if (log_number_) {
    PutVarint32(dst, kLogNumber);
    PutVarint64(dst, *log_number_);
  }
  if (next_file_number_) {
    PutVarint32(dst, kNextFileNumber);
    PutVarint64(dst, *next_file_number_);
  }
  if (last_sequence_) {
    PutVarint32(dst, kLastSequence);
    PutVarint64(dst, *last_sequence_);
  }
  for (const auto& [level, key] : compact_pointers_) {
    PutVarint32(dst, kCompactPointer);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutLengthPrefixed(dst, key);
  }
  for (const auto& [level, number] : deleted_files_) {
    PutVarint32(dst, kDeletedFile);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutVarint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    PutVarint32(dst, kNewFile);
    PutVarint32(dst, static_cast<uint32_t>(level));
    PutVarint64(dst, f.number);
    PutVarint64(dst, f.file_size);
    PutLengthPrefixed(dst, f.smallest);
    PutLengthPrefixed(dst, f.largest);
  }
}

Status VersionEdit::DecodeFrom(std::string_view src) {
  Clear();
  std::string_view input = src;
  const char* what = nullptr;
  uint32_t tag;
  while (what == nullptr && !input.empty()) {
    if (!GetVarint32(&input, &tag)) {
      what = "bad tag";
      break;
    }
    int level;
    uint64_t number;
    std::string_view str;
    switch (tag) {
      case kComparator:
        if (GetLengthPrefixed(&input, &str)) {
          comparator_ = std::string(str);
        } else {
          what = "bad comparator name";
        }
        break;
      case kLogNumber:
        if (GetVarint64(&input, &number)) {
          log_number_ = number;
        } else {
          what = "bad log number";
        }
        break;
      case kNextFileNumber:
        if (GetVarint64(&input, &number)) {
          next_file_number_ = number;
        } else {
          what = "bad next file number";
        }
        break;
      case kLastSequence:
        if (GetVarint64(&input, &number) && number <= kMaxSequenceNumber) {
          last_sequence_ = number;
        } else {
          what = "bad last sequence";
        }
        break;
      case kCompactPointer: {
        std::string key;
        if (GetLevel(&input, &level) && GetInternalKey(&input, &key)) {
          compact_pointers_.emplace_back(level, std::move(key));
        } else {
          what = "bad compaction pointer";
        }
        break;
      }
      case kDeletedFile:
        if (GetLevel(&input, &level) && GetVarint64(&input, &number)) {
          deleted_files_.insert({level, number});
        } else {
          what = "bad deleted file";
        }
        break;
      case kNewFile: {
        FileMetaData f;
        if (GetLevel(&input, &level) && GetVarint64(&input, &f.number) &&
            GetVarint64(&input, &f.file_size) && GetInternalKey(&input, &f.smallest) &&
            GetInternalKey(&input, &f.largest)) {
          new_files_.emplace_back(level, std::move(f));
        } else {
          what = "bad new file";
        }
        break;
      }
      default:
        what = "unknown tag";
        break;
    }
  }
  if (what != nullptr) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%s at byte %zu of %zu", what, src.size() - input.size(),
                  src.size());
    return Status::Corruption("manifest record", buf);
  }
  return Status::OK();
}

std::string VersionEdit::DebugString() const {
  std::string r = "VersionEdit {";
  char buf[128];
  if (comparator_) r += "\n  comparator: " + *comparator_;
  if (log_number_) {
    std::snprintf(buf, sizeof(buf), "\n  log_number: %" PRIu64, *log_number_);
    r += buf;
  }
  if (next_file_number_) {
    std::snprintf(buf, sizeof(buf), "\n  next_file: %" PRIu64, *next_file_number_);
    r += buf;
  }
  if (last_sequence_) {
    std::snprintf(buf, sizeof(buf), "\n  last_seq: %" PRIu64, *last_sequence_);
    r += buf;
  }
  for (const auto& [level, key] : compact_pointers_) {
    std::snprintf(buf, sizeof(buf), "\n  compact_pointer: L%d", level);
    r += buf;
  }
  for (const auto& [level, number] : deleted_files_) {
    std::snprintf(buf, sizeof(buf), "\n  delete: L%d #%" PRIu64, level, number);
    r += buf;
  }
  for (const auto& [level, f] : new_files_) {
    std::snprintf(buf, sizeof(buf), "\n  add: L%d #%" PRIu64 " %" PRIu64 " bytes", level, f.number,
                  f.file_size);
    r += buf;
  }
  r += "\n}\n";
  return r;
}

}  // namespace dkv::storage

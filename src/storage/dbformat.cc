#include "storage/dbformat.h"

#include <algorithm>

namespace dkv::storage {

namespace {
class BytewiseComparatorImpl final : public Comparator {
 public:
  int Compare(std::string_view a, std::string_view b) const override { return a.compare(b); }
  const char* Name() const override { return "dkv.Bytewise"; }

  void FindShortestSeparator(std::string* start, std::string_view limit) const override {
    size_t min_len = std::min(start->size(), limit.size());
    size_t diff = 0;
    while (diff < min_len && (*start)[diff] == limit[diff]) diff++;
    if (diff >= min_len) return;  // one is a prefix of the other
    uint8_t byte = static_cast<uint8_t>((*start)[diff]);
    if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[diff])) {
      (*start)[diff] = static_cast<char>(byte + 1);
      start->resize(diff + 1);
      DKV_DASSERT(Compare(*start, limit) < 0);
    }
  }

  void FindShortSuccessor(std::string* key) const override {
    for (size_t i = 0; i < key->size(); i++) {
      uint8_t byte = static_cast<uint8_t>((*key)[i]);
      if (byte != 0xff) {
        (*key)[i] = static_cast<char>(byte + 1);
        key->resize(i + 1);
        return;
      }
    }
    // All 0xff: leave as is.
  }
};
}  // namespace

const Comparator* BytewiseComparator() {
  static const BytewiseComparatorImpl kInstance;
  return &kInstance;
}

int InternalKeyComparator::Compare(std::string_view a, std::string_view b) const {
  if (a.size() < kInternalKeyTrailerSize || b.size() < kInternalKeyTrailerSize) [[unlikely]] {
    // Only a corrupt file read without checksums can hold a key shorter than
    // its trailer. Order such keys before every well-formed key (bytewise among
    // themselves) rather than read past them; the reader that parses the entry
    // then reports the corruption.
    const bool a_bad = a.size() < kInternalKeyTrailerSize;
    const bool b_bad = b.size() < kInternalKeyTrailerSize;
    if (a_bad != b_bad) return a_bad ? -1 : +1;
    return a.compare(b) < 0 ? -1 : (a == b ? 0 : +1);
  }
  int r = user_->Compare(ExtractUserKey(a), ExtractUserKey(b));
  if (r != 0) return r;
  uint64_t anum = DecodeFixed64(a.data() + a.size() - kInternalKeyTrailerSize);
  uint64_t bnum = DecodeFixed64(b.data() + b.size() - kInternalKeyTrailerSize);
  if (anum > bnum) return -1;
  if (anum < bnum) return +1;
  return 0;
}

void InternalKeyComparator::FindShortestSeparator(std::string* start,
                                                  std::string_view limit) const {
  std::string_view user_start = ExtractUserKey(*start);
  std::string_view user_limit = ExtractUserKey(limit);
  std::string tmp(user_start);
  user_->FindShortestSeparator(&tmp, user_limit);
  if (tmp.size() < user_start.size() && user_->Compare(user_start, tmp) < 0) {
    // The user key got shorter but logically larger: give it the largest
    // trailer so it sorts before every real entry with that user key.
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    DKV_DASSERT(Compare(*start, tmp) < 0);
    DKV_DASSERT(Compare(tmp, limit) < 0);
    start->swap(tmp);
  }
}

void InternalKeyComparator::FindShortSuccessor(std::string* key) const {
  std::string_view user_key = ExtractUserKey(*key);
  std::string tmp(user_key);
  user_->FindShortSuccessor(&tmp);
  if (tmp.size() < user_key.size() && user_->Compare(user_key, tmp) < 0) {
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    DKV_DASSERT(Compare(*key, tmp) < 0);
    key->swap(tmp);
  }
}

LookupKey::LookupKey(std::string_view user_key, SequenceNumber sequence) {
  size_t ikey_len = user_key.size() + kInternalKeyTrailerSize;
  buf_.reserve(ikey_len + kMaxVarint32Bytes);
  PutVarint32(&buf_, static_cast<uint32_t>(ikey_len));
  kstart_ = buf_.size();
  AppendInternalKey(&buf_, user_key, sequence, kValueTypeForSeek);
}

}  // namespace dkv::storage

#include "storage/memtable.h"

#include <cstring>

#include "common/coding.h"

namespace dkv::storage {

namespace {

// Decodes the varint32-prefixed slice at p. The memtable wrote every entry
// itself, so the bytes are trusted and the 5-byte bound is only a safety net.
// Keys under 128 bytes (almost all) have a one-byte length: decode that
// inline, as every skiplist comparison does it twice.
inline std::string_view GetLengthPrefixedSlice(const char* p) {
  const auto first = static_cast<uint8_t>(*p);
  if (first < 0x80) return std::string_view(p + 1, first);
  uint32_t len = 0;
  const char* q = GetVarint32Ptr(p, p + kMaxVarint32Bytes, &len);
  DKV_DASSERT(q != nullptr);
  return std::string_view(q, len);
}

}  // namespace

int MemTable::KeyComparator::operator()(const char* a, const char* b) const {
  const std::string_view ka = GetLengthPrefixedSlice(a);
  const std::string_view kb = GetLengthPrefixedSlice(b);
  if (!bytewise) return comparator->Compare(ka, kb);
  DKV_DASSERT(ka.size() >= kInternalKeyTrailerSize);
  DKV_DASSERT(kb.size() >= kInternalKeyTrailerSize);
  const size_t ua = ka.size() - kInternalKeyTrailerSize;
  const size_t ub = kb.size() - kInternalKeyTrailerSize;
  const size_t min_len = ua < ub ? ua : ub;
  int r = min_len == 0 ? 0 : std::memcmp(ka.data(), kb.data(), min_len);
  if (r != 0) return r;
  if (ua != ub) return ua < ub ? -1 : +1;
  // Same user key: the higher (sequence, type) is newer and sorts first.
  const uint64_t ta = DecodeFixed64(ka.data() + ua);
  const uint64_t tb = DecodeFixed64(kb.data() + ub);
  if (ta > tb) return -1;
  if (ta < tb) return +1;
  return 0;
}

MemTable::MemTable(const InternalKeyComparator& cmp)
    : comparator_(cmp),
      table_(KeyComparator{&comparator_, cmp.user_comparator() == BytewiseComparator()}, &arena_) {}

MemTable::~MemTable() { DKV_ASSERT(refs_ == 0); }

void MemTable::Add(SequenceNumber seq, ValueType type, std::string_view user_key,
                   std::string_view value) {
  DKV_ASSERT(seq <= kMaxSequenceNumber);
  // Lengths are varint32 in the entry format.
  DKV_ASSERT(user_key.size() + kInternalKeyTrailerSize <= UINT32_MAX);
  DKV_ASSERT(value.size() <= UINT32_MAX);
  const uint32_t ikey_len = static_cast<uint32_t>(user_key.size() + kInternalKeyTrailerSize);
  const uint32_t val_len = static_cast<uint32_t>(value.size());
  const size_t encoded_len =
      VarintLength(ikey_len) + size_t{ikey_len} + VarintLength(val_len) + size_t{val_len};
  char* buf = arena_.Allocate(encoded_len);
  char* p = EncodeVarint32(buf, ikey_len);
  if (!user_key.empty()) std::memcpy(p, user_key.data(), user_key.size());
  p += user_key.size();
  EncodeFixed64(p, PackSequenceAndType(seq, type));
  p += kInternalKeyTrailerSize;
  p = EncodeVarint32(p, val_len);
  if (val_len != 0) std::memcpy(p, value.data(), val_len);
  DKV_DASSERT(p + val_len == buf + encoded_len);
  table_.Insert(buf);
}

bool MemTable::Get(const LookupKey& key, std::string* value, Status* s) {
  Table::Iterator iter(&table_);
  iter.Seek(key.memtable_key().data());
  if (!iter.Valid()) return false;
  // The seek landed on the first entry with (user key, trailer) >= the lookup,
  // i.e. the newest entry visible at the snapshot if the user key matches.
  const std::string_view ikey = GetLengthPrefixedSlice(iter.key());
  const std::string_view user_key = ExtractUserKey(ikey);
  if (comparator_.user_comparator()->Compare(user_key, key.user_key()) != 0) return false;
  const uint64_t tag = DecodeFixed64(ikey.data() + ikey.size() - kInternalKeyTrailerSize);
  switch (static_cast<ValueType>(tag & 0xff)) {
    case ValueType::kValue: {
      const std::string_view v = GetLengthPrefixedSlice(ikey.data() + ikey.size());
      value->assign(v.data(), v.size());
      *s = Status::OK();
      return true;
    }
    case ValueType::kDeletion:
      *s = Status::NotFound("memtable");
      return true;
  }
  // Only Add writes entries and it takes a ValueType.
  DKV_UNREACHABLE();
}

class MemTableIterator final : public Iterator {
 public:
  explicit MemTableIterator(const MemTable::Table* table) : iter_(table) {}

  bool Valid() const override { return iter_.Valid(); }
  void SeekToFirst() override { iter_.SeekToFirst(); }
  void SeekToLast() override { iter_.SeekToLast(); }
  void Seek(std::string_view target) override {
    // The skiplist orders arena entries, so encode the target the same way.
    DKV_ASSERT(target.size() <= UINT32_MAX);
    seek_key_.clear();
    PutVarint32(&seek_key_, static_cast<uint32_t>(target.size()));
    seek_key_.append(target.data(), target.size());
    iter_.Seek(seek_key_.data());
  }
  void Next() override { iter_.Next(); }
  void Prev() override { iter_.Prev(); }
  std::string_view key() const override { return GetLengthPrefixedSlice(iter_.key()); }
  std::string_view value() const override {
    const std::string_view k = GetLengthPrefixedSlice(iter_.key());
    return GetLengthPrefixedSlice(k.data() + k.size());
  }
  Status status() const override { return Status::OK(); }

 private:
  MemTable::Table::Iterator iter_;
  std::string seek_key_;  // reused to avoid an allocation per Seek
};

std::unique_ptr<Iterator> MemTable::NewIterator() {
  return std::make_unique<MemTableIterator>(&table_);
}

}  // namespace dkv::storage

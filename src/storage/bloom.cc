// Bloom filter policy (XXH3 with double hashing) and the internal-key wrapper.
// The filter layout is on disk (docs/formats/sstable.md, "Filter block"):
//   bit array (ceil(bits/8) bytes) | 1 byte: number of probes k
// Probe i of key tests bit ((g_i * bits) >> 32) with g_i = h1 + i * h2 mod 2^32,
// where h1 and h2 are the low and high halves of Hash64(key, kBloomHashSeed)
// (h2 forced odd): a multiply-shift maps g_i onto [0, bits) without the
// division a modulo costs on every probe. Frozen.
#include <algorithm>
#include <cstdint>
#include <string>

#include "common/hash.h"
#include "storage/dbformat.h"
#include "storage/filter_policy.h"

namespace dkv::storage {

namespace {

// Frozen: seed of the hash the filters are built with.
constexpr uint64_t kBloomHashSeed = 0x626c6f6f6d;  // "bloom"
// A filter never has fewer bits than this, so tiny tables still get a useful
// false-positive rate.
constexpr size_t kMinFilterBits = 64;
// Probe counts above this are reserved (a reader answers "may match").
constexpr int kMaxProbes = 30;
// Probe positions are 32-bit; a larger filter would leave bits unused, so the
// builder caps the size (a table with >400M keys just gets more false
// positives) and a reader treats a larger one as malformed.
constexpr uint64_t kMaxFilterBits = uint64_t{1} << 32;

inline uint64_t ProbeBit(uint32_t g, uint64_t bits) { return (uint64_t{g} * bits) >> 32; }

class BloomFilterPolicy final : public FilterPolicy {
 public:
  explicit BloomFilterPolicy(int bits_per_key) : bits_per_key_(std::max(bits_per_key, 1)) {
    // k = bits_per_key * ln 2 minimises the false-positive rate.
    probes_ = std::clamp(static_cast<int>(bits_per_key_ * 0.69), 1, kMaxProbes);
  }

  const char* Name() const override { return "dkv.BloomFilter1"; }

  void CreateFilter(const std::vector<std::string_view>& keys, std::string* dst) const override {
    size_t bits = std::max(keys.size() * static_cast<size_t>(bits_per_key_), kMinFilterBits);
    bits = std::min<size_t>(bits, kMaxFilterBits);
    const size_t bytes = (bits + 7) / 8;
    bits = bytes * 8;
    const size_t start = dst->size();
    dst->resize(start + bytes, '\0');
    dst->push_back(static_cast<char>(probes_));
    auto* array = reinterpret_cast<uint8_t*>(dst->data() + start);
    for (std::string_view key : keys) {
      const uint64_t h = Hash64(key, kBloomHashSeed);
      uint32_t g = static_cast<uint32_t>(h);
      const uint32_t delta = static_cast<uint32_t>(h >> 32) | 1;
      for (int i = 0; i < probes_; i++) {
        const uint64_t bit = ProbeBit(g, bits);
        array[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
        g += delta;  // wraps mod 2^32
      }
    }
  }

  bool KeyMayMatch(std::string_view key, std::string_view filter) const override {
    if (filter.size() < 2) return true;  // malformed: never a false negative
    const auto* array = reinterpret_cast<const uint8_t*>(filter.data());
    const size_t bits = (filter.size() - 1) * 8;
    const int probes = static_cast<uint8_t>(filter.back());
    if (probes < 1 || probes > kMaxProbes) return true;  // reserved encodings
    if (bits > kMaxFilterBits) return true;              // not ours: malformed
    const uint64_t h = Hash64(key, kBloomHashSeed);
    uint32_t g = static_cast<uint32_t>(h);
    const uint32_t delta = static_cast<uint32_t>(h >> 32) | 1;
    for (int i = 0; i < probes; i++) {
      const uint64_t bit = ProbeBit(g, bits);
      if ((array[bit / 8] & (1u << (bit % 8))) == 0) return false;
      g += delta;
    }
    return true;
  }

 private:
  int bits_per_key_;
  int probes_;
};

class InternalFilterPolicy final : public FilterPolicy {
 public:
  explicit InternalFilterPolicy(const FilterPolicy* user)
      : user_(user), name_(std::string("dkv.Internal(") + user->Name() + ")") {}

  const char* Name() const override { return name_.c_str(); }

  void CreateFilter(const std::vector<std::string_view>& keys, std::string* dst) const override {
    std::vector<std::string_view> user_keys;
    user_keys.reserve(keys.size());
    for (std::string_view k : keys) {
      // Short keys cannot come from the engine; hash them whole.
      user_keys.push_back(k.size() >= kInternalKeyTrailerSize ? ExtractUserKey(k) : k);
    }
    user_->CreateFilter(user_keys, dst);
  }

  bool KeyMayMatch(std::string_view key, std::string_view filter) const override {
    if (key.size() < kInternalKeyTrailerSize) return true;
    return user_->KeyMayMatch(ExtractUserKey(key), filter);
  }

 private:
  const FilterPolicy* const user_;
  const std::string name_;
};

}  // namespace

std::unique_ptr<const FilterPolicy> NewBloomFilterPolicy(int bits_per_key) {
  return std::make_unique<BloomFilterPolicy>(bits_per_key);
}

std::unique_ptr<const FilterPolicy> NewInternalFilterPolicy(const FilterPolicy* user_policy) {
  return std::make_unique<InternalFilterPolicy>(user_policy);
}

}  // namespace dkv::storage

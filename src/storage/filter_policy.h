// FilterPolicy: a per-table summary of its keys that answers "definitely not
// here" without reading data blocks (a bloom filter). The filter block format
// is on disk; Name() is stored in the table and a mismatch disables the filter.
// Implementations are immutable and thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dkv::storage {

class FilterPolicy {
 public:
  virtual ~FilterPolicy() = default;
  virtual const char* Name() const = 0;
  // Appends a filter for keys to *dst.
  virtual void CreateFilter(const std::vector<std::string_view>& keys, std::string* dst) const = 0;
  // False only if key was certainly not among the keys of filter. A malformed
  // filter answers true (never a false negative).
  virtual bool KeyMayMatch(std::string_view key, std::string_view filter) const = 0;
};

// Bloom filter with bits_per_key bits per key, hashed with XXH3 (double hashing).
std::unique_ptr<const FilterPolicy> NewBloomFilterPolicy(int bits_per_key);

// Wraps a user-key policy so it can be fed internal keys: it strips the 8-byte
// trailer before hashing. The table layer stores internal keys.
std::unique_ptr<const FilterPolicy> NewInternalFilterPolicy(const FilterPolicy* user_policy);

}  // namespace dkv::storage

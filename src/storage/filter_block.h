// Filter block: ONE filter for the whole table, built by FilterBlockBuilder
// from every key added to the table and read back by FilterBlockReader.
//
// Why one filter per table rather than one per 2 KiB of data offsets (LevelDB):
// a point lookup then costs one filter probe with no offset arithmetic and the
// check runs before the index is even consulted; the block is smaller (no
// offset array); and the false-positive rate is the same. The price is that
// the builder keeps the table's keys in memory until Finish, which is bounded
// by the table size (target_file_size, 2 MiB by default). The block is an
// ordinary checksummed block, so damage is detected when it is loaded and the
// table then runs without a filter (never a false "not found").
// Builder: not thread-safe. Reader: immutable, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "storage/filter_policy.h"

namespace dkv::storage {

class FilterBlockBuilder {
 public:
  explicit FilterBlockBuilder(const FilterPolicy* policy);  // not owned
  void AddKey(std::string_view key);
  // Returns the filter block contents; valid until the builder is destroyed.
  std::string_view Finish();
  size_t ApproximateMemoryUsage() const { return keys_.size() + offsets_.size() * sizeof(size_t); }

 private:
  const FilterPolicy* const policy_;
  std::string keys_;             // all keys, concatenated
  std::vector<size_t> offsets_;  // start of each key in keys_
  std::string result_;
};

class FilterBlockReader {
 public:
  // contents must outlive the reader; policy not owned.
  FilterBlockReader(const FilterPolicy* policy, std::string_view contents)
      : policy_(policy), filter_(contents) {}
  bool KeyMayMatch(std::string_view key) const { return policy_->KeyMayMatch(key, filter_); }

 private:
  const FilterPolicy* const policy_;
  const std::string_view filter_;
};

}  // namespace dkv::storage

#include "storage/filter_block.h"

#include "common/assert.h"

namespace dkv::storage {

FilterBlockBuilder::FilterBlockBuilder(const FilterPolicy* policy) : policy_(policy) {
  DKV_ASSERT(policy_ != nullptr);
}

void FilterBlockBuilder::AddKey(std::string_view key) {
  offsets_.push_back(keys_.size());
  keys_.append(key.data(), key.size());
}

std::string_view FilterBlockBuilder::Finish() {
  std::vector<std::string_view> keys;
  keys.reserve(offsets_.size());
  for (size_t i = 0; i < offsets_.size(); i++) {
    const size_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : keys_.size();
    DKV_ASSERT(offsets_[i] <= end);
    keys.emplace_back(keys_.data() + offsets_[i], end - offsets_[i]);
  }
  result_.clear();
  policy_->CreateFilter(keys, &result_);
  return result_;
}

}  // namespace dkv::storage

#include "storage/merging_iterator.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/random.h"

namespace dkv::storage {
namespace {

// A sorted vector as an Iterator: the children under test.
class VectorIterator final : public Iterator {
 public:
  explicit VectorIterator(std::vector<std::pair<std::string, std::string>> entries,
                          Status status = Status::OK())
      : entries_(std::move(entries)), status_(std::move(status)) {}
  bool Valid() const override { return pos_ < entries_.size(); }
  void SeekToFirst() override { pos_ = 0; }
  void SeekToLast() override { pos_ = entries_.empty() ? kInvalid : entries_.size() - 1; }
  void Seek(std::string_view target) override {
    pos_ = 0;
    while (pos_ < entries_.size() && entries_[pos_].first < target) pos_++;
    if (pos_ == entries_.size()) pos_ = kInvalid;
  }
  void Next() override {
    ASSERT_TRUE(Valid());
    pos_++;
    if (pos_ == entries_.size()) pos_ = kInvalid;
  }
  void Prev() override {
    ASSERT_TRUE(Valid());
    pos_ = pos_ == 0 ? kInvalid : pos_ - 1;
  }
  std::string_view key() const override { return entries_[pos_].first; }
  std::string_view value() const override { return entries_[pos_].second; }
  Status status() const override { return status_; }

 private:
  static constexpr size_t kInvalid = SIZE_MAX;
  std::vector<std::pair<std::string, std::string>> entries_;
  size_t pos_ = kInvalid;
  Status status_;
};

std::string KeyOf(uint64_t n) {
  char buf[16];
  snprintf(buf, sizeof(buf), "%06llu", static_cast<unsigned long long>(n));
  return buf;
}

TEST(MergingIteratorTest, NoChildrenIsEmpty) {
  auto iter = NewMergingIterator(BytewiseComparator(), {});
  iter->SeekToFirst();
  EXPECT_FALSE(iter->Valid());
  EXPECT_TRUE(iter->status().ok());
}

TEST(MergingIteratorTest, ChildErrorShowsInStatus) {
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(std::make_unique<VectorIterator>(
      std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
  children.push_back(
      std::make_unique<VectorIterator>(std::vector<std::pair<std::string, std::string>>{},
                                       Status::Corruption("table 000007.sst", "bad block")));
  auto iter = NewMergingIterator(BytewiseComparator(), std::move(children));
  iter->SeekToFirst();
  ASSERT_TRUE(iter->Valid());
  EXPECT_EQ(iter->key(), "a");
  EXPECT_TRUE(iter->status().IsCorruption());
}

// Splits a random key set across children and drives the merge and a
// std::map model with the same random mix of moves, comparing after each.
void RunRandomMix(uint64_t seed, int num_children) {
  SCOPED_TRACE("seed=" + std::to_string(seed) + " children=" + std::to_string(num_children));
  Rng rng(seed);
  constexpr uint64_t kKeySpace = 400;
  std::map<std::string, std::string> model;
  std::vector<std::vector<std::pair<std::string, std::string>>> parts(num_children);
  const int n = static_cast<int>(rng.Uniform(200));
  for (int i = 0; i < n; i++) {
    std::string k = KeyOf(rng.Uniform(kKeySpace) * 2);  // even keys: odd seeks miss
    if (model.count(k)) continue;
    std::string v = "v" + std::to_string(i);
    model[k] = v;
    parts[rng.Uniform(static_cast<uint64_t>(num_children))].emplace_back(k, v);
  }
  std::vector<std::unique_ptr<Iterator>> children;
  for (auto& p : parts) {
    std::sort(p.begin(), p.end());
    children.push_back(std::make_unique<VectorIterator>(p));
  }
  auto iter = NewMergingIterator(BytewiseComparator(), std::move(children));

  auto pos = model.end();  // model position; end() means invalid
  for (int step = 0; step < 1000; step++) {
    const uint64_t op = rng.Uniform(10);
    if (op == 0) {
      iter->SeekToFirst();
      pos = model.begin();
    } else if (op == 1) {
      iter->SeekToLast();
      pos = model.empty() ? model.end() : std::prev(model.end());
    } else if (op == 2) {
      std::string t = KeyOf(rng.Uniform(kKeySpace * 2 + 2));
      iter->Seek(t);
      pos = model.lower_bound(t);
    } else if (op <= 6) {
      if (pos == model.end()) continue;
      iter->Next();
      ++pos;
    } else {
      if (pos == model.end()) continue;
      iter->Prev();
      pos = pos == model.begin() ? model.end() : std::prev(pos);
    }
    ASSERT_EQ(iter->Valid(), pos != model.end()) << "step " << step << " op " << op;
    if (pos != model.end()) {
      ASSERT_EQ(iter->key(), pos->first) << "step " << step << " op " << op;
      ASSERT_EQ(iter->value(), pos->second) << "step " << step;
    }
  }
  EXPECT_TRUE(iter->status().ok());
}

TEST(MergingIteratorTest, MatchesStdMapUnderRandomForwardBackwardSeekMixes) {
  for (uint64_t seed = 1; seed <= 200; seed++) {
    RunRandomMix(seed, 1 + static_cast<int>(seed % 6));
    if (HasFatalFailure()) return;
  }
}

TEST(MergingIteratorTest, EqualKeysInDifferentChildrenAreAllYielded) {
  std::vector<std::unique_ptr<Iterator>> children;
  children.push_back(std::make_unique<VectorIterator>(
      std::vector<std::pair<std::string, std::string>>{{"a", "1"}, {"b", "first"}}));
  children.push_back(std::make_unique<VectorIterator>(
      std::vector<std::pair<std::string, std::string>>{{"b", "second"}, {"c", "3"}}));
  auto iter = NewMergingIterator(BytewiseComparator(), std::move(children));
  std::string forward;
  for (iter->SeekToFirst(); iter->Valid(); iter->Next())
    forward += std::string(iter->value()) + ",";
  EXPECT_EQ(forward, "1,first,second,3,");
  std::string backward;
  for (iter->SeekToLast(); iter->Valid(); iter->Prev())
    backward += std::string(iter->value()) + ",";
  EXPECT_EQ(backward, "3,second,first,1,");
}

}  // namespace
}  // namespace dkv::storage

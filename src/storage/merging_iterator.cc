#include "storage/merging_iterator.h"

#include "common/assert.h"

namespace dkv::storage {

namespace {

class MergingIterator final : public Iterator {
 public:
  MergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<Iterator>> children)
      : cmp_(cmp), children_(std::move(children)) {
    DKV_ASSERT(cmp_ != nullptr);
    for (const auto& c : children_) DKV_ASSERT(c != nullptr);
  }

  bool Valid() const override { return current_ != nullptr; }

  void SeekToFirst() override {
    for (auto& c : children_) c->SeekToFirst();
    FindSmallest();
    direction_ = Direction::kForward;
  }

  void SeekToLast() override {
    for (auto& c : children_) c->SeekToLast();
    FindLargest();
    direction_ = Direction::kReverse;
  }

  void Seek(std::string_view target) override {
    for (auto& c : children_) c->Seek(target);
    FindSmallest();
    direction_ = Direction::kForward;
  }

  void Next() override {
    DKV_ASSERT(Valid());
    // Moving forward needs every child positioned at its first key > key().
    // After a reverse move the other children sit at their last key < key()
    // (or are exhausted), so reseek them.
    if (direction_ != Direction::kForward) {
      const std::string target(key());
      for (auto& c : children_) {
        if (c.get() == current_) continue;
        c->Seek(target);
        if (c->Valid() && cmp_->Compare(target, c->key()) == 0) c->Next();
      }
      direction_ = Direction::kForward;
    }
    current_->Next();
    FindSmallest();
  }

  void Prev() override {
    DKV_ASSERT(Valid());
    // Moving backward needs every child positioned at its last key < key().
    // After a forward move the other children sit at their first key > key(),
    // so reseek them and step back one.
    if (direction_ != Direction::kReverse) {
      const std::string target(key());
      for (auto& c : children_) {
        if (c.get() == current_) continue;
        c->Seek(target);
        if (c->Valid()) {
          // c->key() >= target: the entry before it is the last < target.
          c->Prev();
        } else {
          // Nothing >= target: its last entry (if any) is < target.
          c->SeekToLast();
        }
      }
      direction_ = Direction::kReverse;
    }
    current_->Prev();
    FindLargest();
  }

  std::string_view key() const override {
    DKV_ASSERT(Valid());
    return current_->key();
  }
  std::string_view value() const override {
    DKV_ASSERT(Valid());
    return current_->value();
  }

  Status status() const override {
    for (const auto& c : children_) {
      Status s = c->status();
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  enum class Direction { kForward, kReverse };

  // Picks the valid child with the smallest key; the first such child wins ties.
  void FindSmallest() {
    Iterator* smallest = nullptr;
    for (auto& c : children_) {
      if (!c->Valid()) continue;
      if (smallest == nullptr || cmp_->Compare(c->key(), smallest->key()) < 0) smallest = c.get();
    }
    current_ = smallest;
  }

  // Picks the valid child with the largest key; the last such child wins ties,
  // so a backward walk yields equal keys in the reverse of the forward order.
  void FindLargest() {
    Iterator* largest = nullptr;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
      Iterator* c = it->get();
      if (!c->Valid()) continue;
      if (largest == nullptr || cmp_->Compare(c->key(), largest->key()) > 0) largest = c;
    }
    current_ = largest;
  }

  const Comparator* const cmp_;
  std::vector<std::unique_ptr<Iterator>> children_;
  Iterator* current_ = nullptr;
  Direction direction_ = Direction::kForward;
};

}  // namespace

std::unique_ptr<Iterator> NewMergingIterator(const Comparator* cmp,
                                             std::vector<std::unique_ptr<Iterator>> children) {
  if (children.empty()) return NewEmptyIterator();
  if (children.size() == 1) return std::move(children[0]);
  return std::make_unique<MergingIterator>(cmp, std::move(children));
}

}  // namespace dkv::storage

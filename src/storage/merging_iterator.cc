#include "storage/merging_iterator.h"

#include "common/assert.h"

namespace dkv::storage {

namespace {

// A child with its Valid() and key() cached after every move, so that picking
// the smallest or largest child (done after every step) makes no virtual
// calls. The cached key stays valid until the child moves (iterator.h).
class Child {
 public:
  explicit Child(std::unique_ptr<Iterator> iter) : iter_(std::move(iter)) {
    DKV_ASSERT(iter_ != nullptr);
  }
  Iterator* iter() const { return iter_.get(); }
  bool Valid() const { return valid_; }
  // REQUIRES: Valid()
  std::string_view key() const {
    DKV_DASSERT(valid_);
    return key_;
  }
  void SeekToFirst() {
    iter_->SeekToFirst();
    Update();
  }
  void SeekToLast() {
    iter_->SeekToLast();
    Update();
  }
  void Seek(std::string_view target) {
    iter_->Seek(target);
    Update();
  }
  void Next() {
    iter_->Next();
    Update();
  }
  void Prev() {
    iter_->Prev();
    Update();
  }

 private:
  void Update() {
    valid_ = iter_->Valid();
    if (valid_) key_ = iter_->key();
  }

  std::unique_ptr<Iterator> iter_;
  bool valid_ = false;
  std::string_view key_;
};

class MergingIterator final : public Iterator {
 public:
  MergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<Iterator>> children)
      : cmp_(cmp) {
    DKV_ASSERT(cmp_ != nullptr);
    DKV_ASSERT(children.size() >= 2);
    children_.reserve(children.size());
    for (auto& c : children) children_.emplace_back(std::move(c));
  }

  bool Valid() const override { return current_ != nullptr; }

  void SeekToFirst() override {
    for (auto& c : children_) c.SeekToFirst();
    FindSmallest();
    direction_ = Direction::kForward;
  }

  void SeekToLast() override {
    for (auto& c : children_) c.SeekToLast();
    FindLargest();
    direction_ = Direction::kReverse;
  }

  void Seek(std::string_view target) override {
    for (auto& c : children_) c.Seek(target);
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
        if (&c == current_) continue;
        c.Seek(target);
        if (c.Valid() && cmp_->Compare(target, c.key()) == 0) c.Next();
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
        if (&c == current_) continue;
        c.Seek(target);
        if (c.Valid()) {
          // c.key() >= target: the entry before it is the last < target.
          c.Prev();
        } else {
          // Nothing >= target: its last entry (if any) is < target.
          c.SeekToLast();
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
    return current_->iter()->value();
  }

  Status status() const override {
    for (const auto& c : children_) {
      Status s = c.iter()->status();
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

 private:
  enum class Direction { kForward, kReverse };

  // Picks the valid child with the smallest key; the first such child wins ties.
  void FindSmallest() {
    Child* smallest = nullptr;
    for (auto& c : children_) {
      if (!c.Valid()) continue;
      if (smallest == nullptr || cmp_->Compare(c.key(), smallest->key()) < 0) smallest = &c;
    }
    current_ = smallest;
  }

  // Picks the valid child with the largest key; the last such child wins ties,
  // so a backward walk yields equal keys in the reverse of the forward order.
  void FindLargest() {
    Child* largest = nullptr;
    for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
      Child* c = &*it;
      if (!c->Valid()) continue;
      if (largest == nullptr || cmp_->Compare(c->key(), largest->key()) > 0) largest = c;
    }
    current_ = largest;
  }

  const Comparator* const cmp_;
  // Never resized after construction: current_ points into it.
  std::vector<Child> children_;
  Child* current_ = nullptr;
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

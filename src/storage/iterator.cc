#include "storage/iterator.h"

namespace dkv::storage {

Iterator::~Iterator() {
  // Cleanups run in registration order (oldest first), each exactly once.
  std::unique_ptr<Cleanup> c = std::move(cleanup_);
  while (c) {
    c->fn();
    c = std::move(c->next);
  }
}

void Iterator::RegisterCleanup(std::function<void()> fn) {
  auto node = std::make_unique<Cleanup>();
  node->fn = std::move(fn);
  // Append at the tail so cleanups run in registration order.
  std::unique_ptr<Cleanup>* tail = &cleanup_;
  while (*tail) tail = &(*tail)->next;
  *tail = std::move(node);
}

namespace {
class EmptyIterator final : public Iterator {
 public:
  explicit EmptyIterator(Status s) : status_(std::move(s)) {}
  bool Valid() const override { return false; }
  void SeekToFirst() override {}
  void SeekToLast() override {}
  void Seek(std::string_view) override {}
  void Next() override { DKV_ASSERT(false); }
  void Prev() override { DKV_ASSERT(false); }
  std::string_view key() const override {
    DKV_ASSERT(false);
    return {};
  }
  std::string_view value() const override {
    DKV_ASSERT(false);
    return {};
  }
  Status status() const override { return status_; }

 private:
  Status status_;
};
}  // namespace

std::unique_ptr<Iterator> NewEmptyIterator(Status status) {
  return std::make_unique<EmptyIterator>(std::move(status));
}

}  // namespace dkv::storage

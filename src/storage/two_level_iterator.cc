#include "storage/two_level_iterator.h"

#include <string>

#include "common/assert.h"

namespace dkv::storage {

namespace {

class TwoLevelIterator final : public Iterator {
 public:
  TwoLevelIterator(std::unique_ptr<Iterator> index_iter, BlockFunction block_function)
      : index_iter_(std::move(index_iter)), block_function_(std::move(block_function)) {}

  bool Valid() const override { return valid_; }

  void Seek(std::string_view target) override {
    index_iter_->Seek(target);
    InitDataBlock();
    if (data_iter_) data_iter_->Seek(target);
    SkipEmptyDataBlocksForward();
    Update();
  }
  void SeekToFirst() override {
    index_iter_->SeekToFirst();
    InitDataBlock();
    if (data_iter_) data_iter_->SeekToFirst();
    SkipEmptyDataBlocksForward();
    Update();
  }
  void SeekToLast() override {
    index_iter_->SeekToLast();
    InitDataBlock();
    if (data_iter_) data_iter_->SeekToLast();
    SkipEmptyDataBlocksBackward();
    Update();
  }
  void Next() override {
    DKV_ASSERT(Valid());
    data_iter_->Next();
    SkipEmptyDataBlocksForward();
    Update();
  }
  void Prev() override {
    DKV_ASSERT(Valid());
    data_iter_->Prev();
    SkipEmptyDataBlocksBackward();
    Update();
  }
  std::string_view key() const override {
    DKV_DASSERT(Valid());
    return key_;
  }
  std::string_view value() const override {
    DKV_DASSERT(Valid());
    return data_iter_->value();
  }
  Status status() const override {
    if (!index_iter_->status().ok()) return index_iter_->status();
    if (data_iter_ != nullptr && !data_iter_->status().ok()) return data_iter_->status();
    return status_;
  }

 private:
  // Caches the data iterator's validity and key: callers ask for them after
  // every move, and this saves two virtual calls per entry on scans.
  void Update() {
    valid_ = data_iter_ != nullptr && data_iter_->Valid();
    key_ = valid_ ? data_iter_->key() : std::string_view();
  }

  // Remembers the first error of a data iterator before it is replaced.
  void SaveError(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }

  void SetDataIterator(std::unique_ptr<Iterator> it) {
    if (data_iter_ != nullptr) SaveError(data_iter_->status());
    data_iter_ = std::move(it);
  }

  void InitDataBlock() {
    if (!index_iter_->Valid()) {
      SetDataIterator(nullptr);
      data_block_handle_.clear();
      return;
    }
    std::string_view handle = index_iter_->value();
    if (data_iter_ != nullptr && handle == data_block_handle_) {
      return;  // already positioned in this block
    }
    auto it = block_function_(handle);
    DKV_ASSERT(it != nullptr);
    data_block_handle_.assign(handle.data(), handle.size());
    SetDataIterator(std::move(it));
  }

  void SkipEmptyDataBlocksForward() {
    // Stop at an error: skipping a damaged block would silently hide data.
    while (data_iter_ == nullptr || !data_iter_->Valid()) {
      if (data_iter_ != nullptr && !data_iter_->status().ok()) return;
      if (!index_iter_->Valid()) {
        SetDataIterator(nullptr);
        return;
      }
      index_iter_->Next();
      InitDataBlock();
      if (data_iter_ != nullptr) data_iter_->SeekToFirst();
    }
  }

  void SkipEmptyDataBlocksBackward() {
    while (data_iter_ == nullptr || !data_iter_->Valid()) {
      if (data_iter_ != nullptr && !data_iter_->status().ok()) return;
      if (!index_iter_->Valid()) {
        SetDataIterator(nullptr);
        return;
      }
      index_iter_->Prev();
      InitDataBlock();
      if (data_iter_ != nullptr) data_iter_->SeekToLast();
    }
  }

  std::unique_ptr<Iterator> index_iter_;
  BlockFunction block_function_;
  std::unique_ptr<Iterator> data_iter_;  // may be nullptr
  std::string data_block_handle_;        // index value data_iter_ was made from
  Status status_;
  bool valid_ = false;
  std::string_view key_;
};

}  // namespace

std::unique_ptr<Iterator> NewTwoLevelIterator(std::unique_ptr<Iterator> index_iter,
                                              BlockFunction block_function) {
  return std::make_unique<TwoLevelIterator>(std::move(index_iter), std::move(block_function));
}

}  // namespace dkv::storage

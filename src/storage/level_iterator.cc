#include "storage/level_iterator.h"

namespace dkv::storage {

size_t FindFile(const InternalKeyComparator& icmp, const std::vector<FileMetaData*>& files,
                std::string_view internal_key) {
  size_t left = 0;
  size_t right = files.size();
  while (left < right) {
    size_t mid = left + (right - left) / 2;
    if (icmp.Compare(files[mid]->largest, internal_key) < 0) {
      left = mid + 1;
    } else {
      right = mid;
    }
  }
  return left;
}

namespace {

class LevelIterator final : public Iterator {
 public:
  LevelIterator(TableCache* cache, const ReadOptions& options, const InternalKeyComparator* icmp,
                std::vector<FileMetaData*> files)
      : cache_(cache), options_(options), icmp_(icmp), files_(std::move(files)) {}

  bool Valid() const override { return cur_ != nullptr && cur_->Valid(); }
  void SeekToFirst() override {
    if (!Open(0)) return;
    cur_->SeekToFirst();
    SkipForward();
  }
  void SeekToLast() override {
    if (files_.empty() || !Open(files_.size() - 1)) return;
    cur_->SeekToLast();
    SkipBackward();
  }
  void Seek(std::string_view target) override {
    if (!Open(FindFile(*icmp_, files_, target))) return;
    cur_->Seek(target);
    SkipForward();
  }
  void Next() override {
    DKV_ASSERT(Valid());
    cur_->Next();
    SkipForward();
  }
  void Prev() override {
    DKV_ASSERT(Valid());
    cur_->Prev();
    SkipBackward();
  }
  std::string_view key() const override { return cur_->key(); }
  std::string_view value() const override { return cur_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    return cur_ != nullptr ? cur_->status() : Status::OK();
  }

 private:
  // Opens file i as the current one; false (and cur_ null) past the end or
  // after an error.
  bool Open(size_t i) {
    if (!status_.ok()) {
      cur_.reset();
      return false;
    }
    if (cur_ != nullptr && index_ == i) return true;
    cur_.reset();
    index_ = i;
    if (i >= files_.size()) return false;
    cur_ = cache_->NewIterator(options_, files_[i]->number, files_[i]->file_size);
    return true;
  }
  bool CheckError() {
    if (cur_ != nullptr && !cur_->status().ok()) {
      status_ = cur_->status();
      cur_.reset();
      return true;
    }
    return false;
  }
  void SkipForward() {
    while (cur_ != nullptr && !cur_->Valid()) {
      if (CheckError()) return;
      if (!Open(index_ + 1)) return;
      cur_->SeekToFirst();
    }
  }
  void SkipBackward() {
    while (cur_ != nullptr && !cur_->Valid()) {
      if (CheckError()) return;
      if (index_ == 0) {
        cur_.reset();
        return;
      }
      if (!Open(index_ - 1)) return;
      cur_->SeekToLast();
    }
  }

  TableCache* const cache_;
  const ReadOptions options_;
  const InternalKeyComparator* const icmp_;
  const std::vector<FileMetaData*> files_;
  size_t index_ = 0;
  std::unique_ptr<Iterator> cur_;
  Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewLevelIterator(TableCache* cache, const ReadOptions& options,
                                           const InternalKeyComparator* icmp,
                                           std::vector<FileMetaData*> files) {
  return std::make_unique<LevelIterator>(cache, options, icmp, std::move(files));
}

}  // namespace dkv::storage

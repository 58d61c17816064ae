#include "storage/db_iter.h"

namespace dkv::storage {

namespace {

// Invariants. Forward: iter_ sits on the entry whose user key and value are
// current. Reverse: iter_ sits just before every entry of the current key,
// which is copied into saved_key_ / saved_value_.
class DBIter final : public Iterator {
 public:
  DBIter(const Comparator* ucmp, std::unique_ptr<Iterator> iter, SequenceNumber seq,
         std::optional<std::string> upper)
      : ucmp_(ucmp), iter_(std::move(iter)), sequence_(seq), upper_(std::move(upper)) {}

  bool Valid() const override { return valid_; }
  std::string_view key() const override {
    DKV_ASSERT(valid_);
    return direction_ == kForward ? ExtractUserKey(iter_->key()) : std::string_view(saved_key_);
  }
  std::string_view value() const override {
    DKV_ASSERT(valid_);
    return direction_ == kForward ? iter_->value() : std::string_view(saved_value_);
  }
  Status status() const override { return status_.ok() ? iter_->status() : status_; }

  void Next() override {
    DKV_ASSERT(valid_);
    if (direction_ == kReverse) {
      direction_ = kForward;
      // iter_ is before the current key's entries; step onto them. saved_key_
      // already names the key to skip.
      if (!iter_->Valid()) {
        iter_->SeekToFirst();
      } else {
        iter_->Next();
      }
      if (!iter_->Valid()) {
        valid_ = false;
        saved_key_.clear();
        return;
      }
    } else {
      saved_key_.assign(ExtractUserKey(iter_->key()));
      iter_->Next();
      if (!iter_->Valid()) {
        valid_ = false;
        saved_key_.clear();
        return;
      }
    }
    FindNextUserEntry(true);
  }

  void Prev() override {
    DKV_ASSERT(valid_);
    if (direction_ == kForward) {
      // Step back past every entry of the current key.
      saved_key_.assign(ExtractUserKey(iter_->key()));
      while (true) {
        iter_->Prev();
        if (!iter_->Valid()) {
          valid_ = false;
          saved_key_.clear();
          saved_value_.clear();
          return;
        }
        if (ucmp_->Compare(ExtractUserKey(iter_->key()), saved_key_) < 0) break;
      }
      direction_ = kReverse;
    }
    FindPrevUserEntry();
  }

  void Seek(std::string_view target) override {
    direction_ = kForward;
    saved_value_.clear();
    saved_key_.clear();
    AppendInternalKey(&saved_key_, target, sequence_, kValueTypeForSeek);
    iter_->Seek(saved_key_);
    if (iter_->Valid()) {
      FindNextUserEntry(false);
    } else {
      valid_ = false;
    }
  }

  void SeekToFirst() override {
    direction_ = kForward;
    saved_value_.clear();
    iter_->SeekToFirst();
    if (iter_->Valid()) {
      FindNextUserEntry(false);
    } else {
      valid_ = false;
    }
  }

  void SeekToLast() override {
    direction_ = kReverse;
    saved_value_.clear();
    if (upper_) {
      std::string target;
      AppendInternalKey(&target, *upper_, kMaxSequenceNumber, kValueTypeForSeek);
      iter_->Seek(target);
      if (iter_->Valid()) {
        iter_->Prev();
      } else {
        iter_->SeekToLast();
      }
    } else {
      iter_->SeekToLast();
    }
    FindPrevUserEntry();
  }

 private:
  enum Direction { kForward, kReverse };

  bool ParseKey(ParsedInternalKey* ikey) {
    if (!ParseInternalKey(iter_->key(), ikey)) {
      status_ = Status::Corruption("iterator", "malformed internal key");
      return false;
    }
    return true;
  }

  bool AboveBound(std::string_view user_key) const {
    return upper_ && ucmp_->Compare(user_key, *upper_) >= 0;
  }

  // Moves forward to the first visible entry. skipping: saved_key_ holds a
  // user key whose remaining (older) entries must be skipped.
  void FindNextUserEntry(bool skipping) {
    DKV_ASSERT(iter_->Valid());
    DKV_ASSERT(direction_ == kForward);
    do {
      ParsedInternalKey ikey;
      if (!ParseKey(&ikey)) break;
      if (ikey.sequence <= sequence_) {
        if (ikey.type == ValueType::kDeletion) {
          saved_key_.assign(ikey.user_key);
          skipping = true;
        } else if (skipping && ucmp_->Compare(ikey.user_key, saved_key_) <= 0) {
          // shadowed by a newer entry (or a deletion) of the same key
        } else {
          if (AboveBound(ikey.user_key)) break;
          valid_ = true;
          saved_key_.clear();
          return;
        }
      }
      iter_->Next();
    } while (iter_->Valid());
    saved_key_.clear();
    valid_ = false;
  }

  // Moves backward to the newest visible entry of the previous user key that
  // is not deleted, saving it.
  void FindPrevUserEntry() {
    DKV_ASSERT(direction_ == kReverse);
    ValueType value_type = ValueType::kDeletion;
    if (iter_->Valid()) {
      do {
        ParsedInternalKey ikey;
        if (!ParseKey(&ikey)) {
          value_type = ValueType::kDeletion;
          break;
        }
        if (ikey.sequence <= sequence_) {
          if (value_type != ValueType::kDeletion && ucmp_->Compare(ikey.user_key, saved_key_) < 0) {
            break;  // saved_key_ is complete: its newest visible entry is a value
          }
          value_type = ikey.type;
          if (value_type == ValueType::kDeletion) {
            saved_key_.clear();
            saved_value_.clear();
          } else {
            saved_key_.assign(ikey.user_key);
            std::string_view v = iter_->value();
            saved_value_.assign(v.data(), v.size());
          }
        }
        iter_->Prev();
      } while (iter_->Valid());
    }
    if (value_type == ValueType::kDeletion) {
      valid_ = false;
      saved_key_.clear();
      saved_value_.clear();
      direction_ = kForward;
    } else {
      valid_ = true;
    }
  }

  const Comparator* const ucmp_;
  std::unique_ptr<Iterator> iter_;
  const SequenceNumber sequence_;
  const std::optional<std::string> upper_;
  Status status_;
  std::string saved_key_;
  std::string saved_value_;
  Direction direction_ = kForward;
  bool valid_ = false;
};

}  // namespace

std::unique_ptr<Iterator> NewDBIterator(const Comparator* user_comparator,
                                        std::unique_ptr<Iterator> internal_iter,
                                        SequenceNumber sequence,
                                        std::optional<std::string> upper_bound) {
  return std::make_unique<DBIter>(user_comparator, std::move(internal_iter), sequence,
                                  std::move(upper_bound));
}

}  // namespace dkv::storage

#include "storage/write_batch_internal.h"

#include "storage/memtable.h"

namespace dkv::storage {

namespace {

// Hands each record to the memtable with consecutive sequence numbers.
class MemTableInserter final : public WriteBatch::Handler {
 public:
  MemTableInserter(SequenceNumber first, MemTable* mem) : sequence_(first), mem_(mem) {}

  void Put(std::string_view key, std::string_view value) override {
    mem_->Add(sequence_, ValueType::kValue, key, value);
    sequence_++;
  }
  void Delete(std::string_view key) override {
    mem_->Add(sequence_, ValueType::kDeletion, key, std::string_view());
    sequence_++;
  }

 private:
  SequenceNumber sequence_;
  MemTable* mem_;
};

}  // namespace

Status WriteBatchInternal::InsertInto(const WriteBatch& batch, MemTable* mem) {
  DKV_ASSERT(mem != nullptr);
  // The last record's sequence must still fit the 56-bit trailer field.
  if (batch.Count() > 0 && batch.Sequence() > kMaxSequenceNumber - (batch.Count() - 1)) {
    return Status::Corruption("write batch", "sequence number overflow");
  }
  MemTableInserter inserter(batch.Sequence(), mem);
  return batch.Iterate(&inserter);
}

size_t WriteBatchInternal::ByteSize(const WriteBatch& batch) { return batch.Contents().size(); }

}  // namespace dkv::storage

#include "storage/table.h"

#include <cstring>
#include <optional>

#include "common/assert.h"
#include "common/coding.h"
#include "storage/block.h"
#include "storage/cache.h"
#include "storage/compression.h"
#include "storage/filter_block.h"
#include "storage/table_format.h"

namespace dkv::storage {

struct Table::Rep {
  TableOptions options;
  std::string file_name;
  std::unique_ptr<RandomAccessFile> file;
  // file->StableResults(): its uncompressed blocks are read in place and
  // bypass the block cache (see PinBlock).
  bool stable_file = false;
  uint64_t file_size = 0;
  uint64_t cache_id = 0;
  BlockHandle metaindex_handle;  // for ApproximateOffsetOf past the last key
  uint64_t index_offset = 0;     // for error messages
  std::unique_ptr<Block> index_block;
  BlockContents filter_contents;
  std::unique_ptr<FilterBlockReader> filter;  // nullptr: no usable filter

  // A pinned data block: from the cache (handle set), owned (owned set), or
  // a view of the file's own bytes (in_place set; no allocation).
  struct PinnedBlock {
    const Block* block = nullptr;
    Cache::Handle* handle = nullptr;
    std::unique_ptr<Block> owned;
    std::optional<Block> in_place;
  };

  Status CheckHandle(const BlockHandle& h, std::string_view what) const {
    const uint64_t end = file_size - Footer::kEncodedLength;
    if (h.offset() > end || h.size() > end - h.offset() ||
        end - h.offset() - h.size() < kBlockTrailerSize) {
      return BlockCorruption(file_name, std::string(what) + " block handle out of range",
                             h.offset());
    }
    return Status::OK();
  }

  Status ReadWholeBlock(const BlockHandle& h, bool verify, std::unique_ptr<Block>* out) const {
    BlockContents contents;
    DKV_RETURN_IF_ERROR(ReadBlock(file.get(), file_name, verify, h, &contents));
    auto block = std::make_unique<Block>(std::move(contents));
    if (!block->well_formed()) {
      return BlockCorruption(file_name, "malformed block restart array", h.offset());
    }
    *out = std::move(block);
    return Status::OK();
  }

  Status DecodeHandle(std::string_view encoded, BlockHandle* h) const {
    if (!h->DecodeFrom(&encoded)) {
      return Status::Corruption(file_name, "bad block handle in index block");
    }
    return CheckHandle(*h, "data");
  }

  // For a stable file: true if the block at h is stored uncompressed, judged
  // by its trailer's type byte (verified later with the block's checksum,
  // which covers it). REQUIRES: stable_file; CheckHandle(h) is OK.
  bool StoredRaw(const BlockHandle& h) const {
    DKV_DASSERT(stable_file);
    std::string_view type;
    return file->Read(h.offset() + h.size(), 1, &type, nullptr).ok() && type.size() == 1 &&
           static_cast<CompressionType>(type[0]) == CompressionType::kNone;
  }

  // Pins the data block at h: in place when the file's bytes are stable and
  // the block is uncompressed (like LevelDB's mmapped tables, such blocks
  // are not cached: a cache entry would only copy what is already in
  // memory and evict blocks that do need it); otherwise through the block
  // cache, reading it on a miss. Checksums are verified on every in-place
  // read when ro.verify_checksums, as on every miss.
  // REQUIRES: CheckHandle(h) is OK; pin is empty.
  Status PinBlock(const ReadOptions& ro, const BlockHandle& h, PinnedBlock* pin) const {
    DKV_DASSERT(pin->block == nullptr);
    if (stable_file && StoredRaw(h)) {
      BlockContents contents;
      DKV_RETURN_IF_ERROR(ReadBlock(file.get(), file_name, ro.verify_checksums, h, &contents));
      if (contents.borrowed) {
        pin->in_place.emplace(std::move(contents));
        if (!pin->in_place->well_formed()) {
          pin->in_place.reset();
          return BlockCorruption(file_name, "malformed block restart array", h.offset());
        }
        pin->block = &*pin->in_place;
        return Status::OK();
      }
      // The type byte read differently the second time (the file changed
      // under us); the general path below copes with whatever it is now.
    }
    Cache* cache = options.block_cache.get();
    if (cache == nullptr) {
      DKV_RETURN_IF_ERROR(ReadWholeBlock(h, ro.verify_checksums, &pin->owned));
      pin->block = pin->owned.get();
      return Status::OK();
    }
    // Cache key: (table's cache id, block offset), 16 bytes on the stack.
    char key_buf[16];
    EncodeFixed64(key_buf, cache_id);
    EncodeFixed64(key_buf + 8, h.offset());
    const std::string_view key(key_buf, sizeof(key_buf));
    if (Cache::Handle* ch = cache->Lookup(key)) {
      pin->handle = ch;
      pin->block = static_cast<const Block*>(cache->Value(ch));
      return Status::OK();
    }
    std::unique_ptr<Block> block;
    DKV_RETURN_IF_ERROR(ReadWholeBlock(h, ro.verify_checksums, &block));
    if (ro.fill_cache) {
      const size_t charge = block->size();
      Block* raw = block.release();
      pin->handle = cache->Insert(key, raw, charge,
                                  [](std::string_view, void* v) { delete static_cast<Block*>(v); });
      pin->block = raw;
    } else {
      pin->owned = std::move(block);
      pin->block = pin->owned.get();
    }
    return Status::OK();
  }

  void Unpin(PinnedBlock* pin) const {
    if (pin->handle != nullptr) {
      options.block_cache->Release(pin->handle);
      pin->handle = nullptr;
    }
    pin->owned.reset();
    pin->in_place.reset();
    pin->block = nullptr;
  }

  class TableIterator;
};

// The table's iterator: an index block iterator choosing data blocks, like
// TwoLevelIterator, but specialised for tables so that a scan makes no
// allocation or virtual call per entry and one per block at most: both
// levels are BlockIters held by value, the data one re-targeted with Reset
// as the scan crosses blocks, and the current block is pinned directly.
class Table::Rep::TableIterator final : public Iterator {
 public:
  TableIterator(const Rep* rep, const ReadOptions& ro)
      : rep_(rep),
        ro_(ro),
        index_(rep->index_block.get(), rep->options.comparator),
        data_(rep->index_block.get(), rep->options.comparator) {
    index_.SetErrorContext(rep->file_name, rep->index_offset);
  }
  ~TableIterator() override { rep_->Unpin(&pin_); }

  bool Valid() const override { return pin_.block != nullptr && data_.Valid(); }
  void Seek(std::string_view target) override {
    index_.Seek(target);
    InitDataBlock();
    if (pin_.block != nullptr) data_.Seek(target);
    SkipEmptyDataBlocksForward();
  }
  void SeekToFirst() override {
    index_.SeekToFirst();
    InitDataBlock();
    if (pin_.block != nullptr) data_.SeekToFirst();
    SkipEmptyDataBlocksForward();
  }
  void SeekToLast() override {
    index_.SeekToLast();
    InitDataBlock();
    if (pin_.block != nullptr) data_.SeekToLast();
    SkipEmptyDataBlocksBackward();
  }
  void Next() override {
    DKV_ASSERT(Valid());
    data_.Next();
    if (!data_.Valid()) SkipEmptyDataBlocksForward();
  }
  void Prev() override {
    DKV_ASSERT(Valid());
    data_.Prev();
    if (!data_.Valid()) SkipEmptyDataBlocksBackward();
  }
  std::string_view key() const override {
    DKV_DASSERT(Valid());
    return data_.key();
  }
  std::string_view value() const override {
    DKV_DASSERT(Valid());
    return data_.value();
  }
  Status status() const override {
    if (!index_.status().ok()) return index_.status();
    if (!status_.ok()) return status_;
    if (pin_.block != nullptr) return data_.status();
    return Status::OK();
  }

 private:
  void SaveError(const Status& s) {
    if (status_.ok() && !s.ok()) status_ = s;
  }

  void ReleaseBlock() {
    if (pin_.block != nullptr) SaveError(data_.status());
    rep_->Unpin(&pin_);
  }

  // Points data_ at the block the index is on (keeping it if it already is).
  void InitDataBlock() {
    if (!index_.Valid()) {
      ReleaseBlock();
      return;
    }
    BlockHandle h;
    Status s = rep_->DecodeHandle(index_.value(), &h);
    if (!s.ok()) {
      ReleaseBlock();
      SaveError(s);
      return;
    }
    if (pin_.block != nullptr && h.offset() == block_offset_) return;
    ReleaseBlock();
    s = rep_->PinBlock(ro_, h, &pin_);
    if (!s.ok()) {
      SaveError(s);
      return;
    }
    data_.Reset(pin_.block);
    data_.SetErrorContext(rep_->file_name, h.offset());
    block_offset_ = h.offset();
  }

  // Both stop at the first error: skipping a damaged block would hide data.
  void SkipEmptyDataBlocksForward() {
    while (pin_.block == nullptr || !data_.Valid()) {
      if (pin_.block != nullptr && !data_.status().ok()) return;
      if (!status_.ok() || !index_.Valid()) {
        ReleaseBlock();
        return;
      }
      index_.Next();
      InitDataBlock();
      if (pin_.block != nullptr) data_.SeekToFirst();
    }
  }
  void SkipEmptyDataBlocksBackward() {
    while (pin_.block == nullptr || !data_.Valid()) {
      if (pin_.block != nullptr && !data_.status().ok()) return;
      if (!status_.ok() || !index_.Valid()) {
        ReleaseBlock();
        return;
      }
      index_.Prev();
      InitDataBlock();
      if (pin_.block != nullptr) data_.SeekToLast();
    }
  }

  const Rep* const rep_;
  const ReadOptions ro_;
  BlockIter index_;
  BlockIter data_;   // meaningful only while pin_.block != nullptr
  PinnedBlock pin_;  // the block data_ reads
  uint64_t block_offset_ = 0;
  Status status_;  // first error from a block read or handle
};

Table::Table(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}

Table::~Table() = default;

Result<std::unique_ptr<Table>> Table::Open(const TableOptions& options,
                                           std::unique_ptr<RandomAccessFile> file,
                                           uint64_t file_size, std::string file_name) {
  DKV_ASSERT(file != nullptr);
  DKV_ASSERT(options.comparator != nullptr);
  if (file_size < Footer::kEncodedLength) {
    return Status::Corruption(
        file_name, "file too short (" + std::to_string(file_size) + " bytes) to be an sstable");
  }
  char footer_buf[Footer::kEncodedLength];
  std::string_view footer_input;
  Status s = file->Read(file_size - Footer::kEncodedLength, Footer::kEncodedLength, &footer_input,
                        footer_buf);
  if (!s.ok()) return s.WithContext(file_name);
  if (footer_input.size() != Footer::kEncodedLength) {
    return Status::Corruption(file_name, "truncated footer read");
  }
  Footer footer;
  DKV_RETURN_IF_ERROR(footer.DecodeFrom(footer_input, file_name));

  auto rep = std::make_unique<Rep>();
  rep->options = options;
  rep->file_name = std::move(file_name);
  rep->file = std::move(file);
  rep->stable_file = rep->file->StableResults();
  rep->file_size = file_size;
  rep->metaindex_handle = footer.metaindex_handle();
  rep->index_offset = footer.index_handle().offset();

  // Index and metaindex are always verified: every read depends on them.
  DKV_RETURN_IF_ERROR(rep->CheckHandle(footer.index_handle(), "index"));
  DKV_RETURN_IF_ERROR(rep->CheckHandle(footer.metaindex_handle(), "metaindex"));
  DKV_RETURN_IF_ERROR(rep->ReadWholeBlock(footer.index_handle(), true, &rep->index_block));
  std::unique_ptr<Block> meta;
  DKV_RETURN_IF_ERROR(rep->ReadWholeBlock(footer.metaindex_handle(), true, &meta));

  if (options.filter_policy != nullptr) {
    BlockIter it(meta.get(), BytewiseComparator());
    it.SetErrorContext(rep->file_name, footer.metaindex_handle().offset());
    const std::string key = std::string(kFilterMetaPrefix) + options.filter_policy->Name();
    it.Seek(key);
    if (!it.status().ok()) return it.status();
    if (it.Valid() && it.key() == key) {
      BlockHandle fh;
      std::string_view v = it.value();
      // A filter that cannot be read (bad handle, checksum) is dropped: the
      // table still answers every read correctly, only without the shortcut.
      if (fh.DecodeFrom(&v) && rep->CheckHandle(fh, "filter").ok() &&
          ReadBlock(rep->file.get(), rep->file_name, true, fh, &rep->filter_contents).ok()) {
        rep->filter =
            std::make_unique<FilterBlockReader>(options.filter_policy, rep->filter_contents.data);
      }
    }
  }
  if (options.block_cache != nullptr) rep->cache_id = options.block_cache->NewId();
  return std::unique_ptr<Table>(new Table(std::move(rep)));
}

std::unique_ptr<Iterator> Table::NewIterator(const ReadOptions& options) const {
  return std::make_unique<Rep::TableIterator>(rep_.get(), options);
}

Status Table::InternalGet(
    const ReadOptions& options, std::string_view key,
    const std::function<void(std::string_view, std::string_view)>& found) const {
  using Fn = std::function<void(std::string_view, std::string_view)>;
  return InternalGet(options, key, const_cast<Fn*>(&found),
                     [](void* arg, std::string_view k, std::string_view v) {
                       (*static_cast<const Fn*>(arg))(k, v);
                     });
}

Status Table::InternalGet(const ReadOptions& options, std::string_view key, void* arg,
                          FoundFunction found) const {
  const Rep* r = rep_.get();
  if (r->filter != nullptr && !r->filter->KeyMayMatch(key)) return Status::OK();
  BlockIter index_iter(r->index_block.get(), r->options.comparator);
  index_iter.SetErrorContext(r->file_name, r->index_offset);
  index_iter.Seek(key);
  if (!index_iter.Valid()) return index_iter.status();
  BlockHandle h;
  DKV_RETURN_IF_ERROR(r->DecodeHandle(index_iter.value(), &h));
  Rep::PinnedBlock pin;
  DKV_RETURN_IF_ERROR(r->PinBlock(options, h, &pin));
  Status s;
  {
    BlockIter it(pin.block, r->options.comparator);
    it.SetErrorContext(r->file_name, h.offset());
    it.Seek(key);
    if (it.Valid()) found(arg, it.key(), it.value());
    s = it.status();
  }
  r->Unpin(&pin);
  return s;
}

uint64_t Table::ApproximateOffsetOf(std::string_view key) const {
  BlockIter index_iter(rep_->index_block.get(), rep_->options.comparator);
  index_iter.Seek(key);
  if (index_iter.Valid()) {
    BlockHandle h;
    std::string_view v = index_iter.value();
    if (h.DecodeFrom(&v)) return h.offset();
  }
  // Past the last key (or a damaged index): the data ends where metadata begins.
  return rep_->metaindex_handle.offset();
}

}  // namespace dkv::storage

#include "storage/table.h"

#include <cstring>

#include "common/assert.h"
#include "common/coding.h"
#include "storage/block.h"
#include "storage/cache.h"
#include "storage/filter_block.h"
#include "storage/table_format.h"
#include "storage/two_level_iterator.h"

namespace dkv::storage {

struct Table::Rep {
  TableOptions options;
  std::string file_name;
  std::unique_ptr<RandomAccessFile> file;
  uint64_t file_size = 0;
  uint64_t cache_id = 0;
  BlockHandle metaindex_handle;  // for ApproximateOffsetOf past the last key
  uint64_t index_offset = 0;     // for error messages
  std::unique_ptr<Block> index_block;
  BlockContents filter_contents;
  std::unique_ptr<FilterBlockReader> filter;  // nullptr: no usable filter

  // A pinned data block: from the cache (handle set) or owned (owned set).
  struct PinnedBlock {
    const Block* block = nullptr;
    Cache::Handle* handle = nullptr;
    std::unique_ptr<Block> owned;
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

  // Pins the data block at handle, reading it on a cache miss.
  Status PinBlock(const ReadOptions& ro, std::string_view encoded_handle, PinnedBlock* pin,
                  uint64_t* block_offset) const {
    BlockHandle h;
    std::string_view input = encoded_handle;
    if (!h.DecodeFrom(&input)) {
      return Status::Corruption(file_name, "bad block handle in index block");
    }
    DKV_RETURN_IF_ERROR(CheckHandle(h, "data"));
    *block_offset = h.offset();
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
    pin->block = nullptr;
  }

  std::unique_ptr<Iterator> NewDataIterator(const ReadOptions& ro,
                                            std::string_view encoded_handle) const {
    PinnedBlock pin;
    uint64_t block_offset = 0;
    Status s = PinBlock(ro, encoded_handle, &pin, &block_offset);
    if (!s.ok()) return NewEmptyIterator(std::move(s));
    auto it = std::make_unique<BlockIter>(pin.block, options.comparator);
    it->SetErrorContext(file_name, block_offset);
    if (pin.handle != nullptr) {
      Cache* cache = options.block_cache.get();
      Cache::Handle* handle = pin.handle;
      it->RegisterCleanup([cache, handle] { cache->Release(handle); });
    } else {
      std::shared_ptr<Block> owned(std::move(pin.owned));
      it->RegisterCleanup([owned] {});
    }
    return it;
  }
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
  auto index_iter = std::make_unique<BlockIter>(rep_->index_block.get(), rep_->options.comparator);
  index_iter->SetErrorContext(rep_->file_name, rep_->index_offset);
  const Rep* rep = rep_.get();
  return NewTwoLevelIterator(std::move(index_iter), [rep, options](std::string_view handle) {
    return rep->NewDataIterator(options, handle);
  });
}

Status Table::InternalGet(
    const ReadOptions& options, std::string_view key,
    const std::function<void(std::string_view, std::string_view)>& found) const {
  const Rep* r = rep_.get();
  if (r->filter != nullptr && !r->filter->KeyMayMatch(key)) return Status::OK();
  BlockIter index_iter(r->index_block.get(), r->options.comparator);
  index_iter.SetErrorContext(r->file_name, r->index_offset);
  index_iter.Seek(key);
  if (!index_iter.Valid()) return index_iter.status();
  Rep::PinnedBlock pin;
  uint64_t block_offset = 0;
  DKV_RETURN_IF_ERROR(r->PinBlock(options, index_iter.value(), &pin, &block_offset));
  Status s;
  {
    BlockIter it(pin.block, r->options.comparator);
    it.SetErrorContext(r->file_name, block_offset);
    it.Seek(key);
    if (it.Valid()) found(it.key(), it.value());
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

#include "storage/table_builder.h"

#include <string>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "storage/block_builder.h"
#include "storage/compression.h"
#include "storage/filter_block.h"
#include "storage/table_format.h"

namespace dkv::storage {

struct TableBuilder::Rep {
  Rep(const TableOptions& opt, WritableFile* f)
      : options(opt),
        file(f),
        data_block(opt.block_restart_interval, opt.comparator),
        // Restart interval 1: every index key is stored whole, so Seek's binary
        // search over restarts is a binary search over all index entries.
        index_block(1, opt.comparator) {
    if (opt.filter_policy != nullptr) {
      filter_block = std::make_unique<FilterBlockBuilder>(opt.filter_policy);
    }
  }

  TableOptions options;
  WritableFile* file;
  uint64_t offset = 0;
  Status status;
  BlockBuilder data_block;
  BlockBuilder index_block;
  std::unique_ptr<FilterBlockBuilder> filter_block;
  std::string last_key;
  uint64_t num_entries = 0;
  bool closed = false;
  // The index entry of a flushed data block is added only when the next key
  // is known, so its separator can be shortened against that key.
  bool pending_index_entry = false;
  BlockHandle pending_handle;
  std::string compressed;  // scratch for compression output

  void WriteBlock(BlockBuilder* block, BlockHandle* handle);
  void WriteRawBlock(std::string_view contents, CompressionType type, BlockHandle* handle);
};

void TableBuilder::Rep::WriteBlock(BlockBuilder* block, BlockHandle* handle) {
  std::string_view raw = block->Finish();
  std::string_view contents = raw;
  CompressionType type = CompressionType::kNone;
  if (options.compression != CompressionType::kNone &&
      CompressBlock(options.compression, raw, &compressed) &&
      compressed.size() < raw.size() - raw.size() / 8) {
    // Keep compression only when it saves at least 12.5%: otherwise the
    // decompression cost on every read buys too little space.
    contents = compressed;
    type = options.compression;
  }
  WriteRawBlock(contents, type, handle);
  compressed.clear();
  block->Reset();
}

void TableBuilder::Rep::WriteRawBlock(std::string_view contents, CompressionType type,
                                      BlockHandle* handle) {
  handle->set_offset(offset);
  handle->set_size(contents.size());
  status = file->Append(contents);
  if (!status.ok()) return;
  char trailer[kBlockTrailerSize];
  trailer[0] = static_cast<char>(type);
  EncodeFixed32(trailer + 1, Checksum32(contents, std::string_view(trailer, 1)));
  status = file->Append(std::string_view(trailer, kBlockTrailerSize));
  if (status.ok()) offset += contents.size() + kBlockTrailerSize;
}

TableBuilder::TableBuilder(const TableOptions& options, WritableFile* file)
    : rep_(std::make_unique<Rep>(options, file)) {
  DKV_ASSERT(options.comparator != nullptr);
  DKV_ASSERT(options.block_size > 0);
  DKV_ASSERT(options.block_size <= kMaxBlockSizeOption);
}

TableBuilder::~TableBuilder() { DKV_ASSERT(rep_->closed); }

void TableBuilder::Add(std::string_view key, std::string_view value) {
  Rep* r = rep_.get();
  DKV_ASSERT(!r->closed);
  if (!r->status.ok()) return;
  DKV_ASSERT(r->num_entries == 0 || r->options.comparator->Compare(key, r->last_key) > 0);
  if (r->pending_index_entry) {
    DKV_ASSERT(r->data_block.empty());
    r->options.comparator->FindShortestSeparator(&r->last_key, key);
    std::string handle;
    r->pending_handle.EncodeTo(&handle);
    r->index_block.Add(r->last_key, handle);
    r->pending_index_entry = false;
  }
  if (r->filter_block != nullptr) r->filter_block->AddKey(key);
  r->last_key.assign(key.data(), key.size());
  r->num_entries++;
  r->data_block.Add(key, value);
  if (r->data_block.CurrentSizeEstimate() >= r->options.block_size) Flush();
}

void TableBuilder::Flush() {
  Rep* r = rep_.get();
  DKV_ASSERT(!r->closed);
  if (!r->status.ok() || r->data_block.empty()) return;
  DKV_ASSERT(!r->pending_index_entry);
  r->WriteBlock(&r->data_block, &r->pending_handle);
  if (r->status.ok()) r->pending_index_entry = true;
}

Status TableBuilder::status() const { return rep_->status; }

Status TableBuilder::Finish() {
  Rep* r = rep_.get();
  Flush();
  DKV_ASSERT(!r->closed);
  r->closed = true;
  if (!r->status.ok()) return r->status;

  BlockHandle filter_handle;
  if (r->filter_block != nullptr) {
    // Stored raw: filters are random bits and do not compress.
    r->WriteRawBlock(r->filter_block->Finish(), CompressionType::kNone, &filter_handle);
  }

  BlockHandle metaindex_handle;
  if (r->status.ok()) {
    BlockBuilder meta(1, BytewiseComparator());
    if (r->filter_block != nullptr) {
      std::string handle;
      filter_handle.EncodeTo(&handle);
      meta.Add(std::string(kFilterMetaPrefix) + r->options.filter_policy->Name(), handle);
    }
    r->WriteBlock(&meta, &metaindex_handle);
  }

  BlockHandle index_handle;
  if (r->status.ok()) {
    if (r->pending_index_entry) {
      r->options.comparator->FindShortSuccessor(&r->last_key);
      std::string handle;
      r->pending_handle.EncodeTo(&handle);
      r->index_block.Add(r->last_key, handle);
      r->pending_index_entry = false;
    }
    r->WriteBlock(&r->index_block, &index_handle);
  }

  if (r->status.ok()) {
    Footer footer;
    footer.set_metaindex_handle(metaindex_handle);
    footer.set_index_handle(index_handle);
    std::string encoded;
    footer.EncodeTo(&encoded);
    r->status = r->file->Append(encoded);
    if (r->status.ok()) r->offset += encoded.size();
  }
  return r->status;
}

void TableBuilder::Abandon() {
  DKV_ASSERT(!rep_->closed);
  rep_->closed = true;
}

uint64_t TableBuilder::NumEntries() const { return rep_->num_entries; }

uint64_t TableBuilder::FileSize() const { return rep_->offset; }

}  // namespace dkv::storage

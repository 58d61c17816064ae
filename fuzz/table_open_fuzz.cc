// Fuzz target: arbitrary bytes as an SSTable file. Opens it (with a bloom
// filter and a small block cache) and, if it opens, iterates both ways, seeks
// and does point lookups; checksums are verified on some inputs and skipped on
// others so the block decoders see damaged bytes too. Must never crash.
// Owned by the table engineer.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "storage/cache.h"
#include "storage/filter_policy.h"
#include "storage/table.h"

namespace {

using namespace dkv;
using namespace dkv::storage;

class MemoryFile final : public RandomAccessFile {
 public:
  explicit MemoryFile(std::string_view data) : data_(data) {}
  Status Read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (offset > data_.size()) return Status::IOError("fuzz", "read past end");
    n = std::min(n, data_.size() - static_cast<size_t>(offset));
    std::memcpy(scratch, data_.data() + offset, n);
    *result = std::string_view(scratch, n);
    return Status::OK();
  }

 private:
  std::string_view data_;
};

constexpr int kMaxSteps = 10000;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto filter = NewBloomFilterPolicy(10);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  TableOptions options;
  options.filter_policy = filter.get();
  options.block_cache = NewLRUCache(64 << 10);
  auto table = Table::Open(options, std::make_unique<MemoryFile>(input), size, "fuzz.sst");
  if (!table.ok()) return 0;
  ReadOptions ro;
  ro.verify_checksums = size % 2 == 0;
  auto it = (*table)->NewIterator(ro);
  int steps = 0;
  for (it->SeekToFirst(); it->Valid() && steps < kMaxSteps; it->Next()) steps++;
  steps = 0;
  for (it->SeekToLast(); it->Valid() && steps < kMaxSteps; it->Prev()) steps++;
  const std::string_view targets[] = {std::string_view(), input.substr(0, 8),
                                      input.substr(size / 2, 8), std::string_view("\xff\xff")};
  for (std::string_view t : targets) {
    it->Seek(t);
    if (it->Valid()) it->Prev();
    (*table)->InternalGet(ro, t, [](std::string_view, std::string_view) {}).IgnoreError();
    (void)(*table)->ApproximateOffsetOf(t);
  }
  (void)it->status();
  return 0;
}

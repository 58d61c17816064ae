// Fuzz target: arbitrary bytes as a WAL-replayed write batch. SetContents must
// accept or reject without reading out of bounds, and a batch it accepts must
// iterate cleanly with exactly Count() records.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/write_batch.h"

namespace {
class CountingHandler final : public dkv::storage::WriteBatch::Handler {
 public:
  void Put(std::string_view key, std::string_view value) override {
    bytes += key.size() + value.size();
    records++;
  }
  void Delete(std::string_view key) override {
    bytes += key.size();
    records++;
  }
  size_t bytes = 0;
  uint32_t records = 0;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dkv::storage::WriteBatch batch;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  dkv::Status s = batch.SetContents(input);
  if (!s.ok()) return 0;
  CountingHandler handler;
  dkv::Status it = batch.Iterate(&handler);
  // Accepted bytes were fully validated: iteration cannot fail now.
  if (!it.ok() || handler.records != batch.Count() || handler.bytes > size) std::abort();
  return 0;
}

// Fuzz target: arbitrary bytes as an SSTable block. Iterates forward and
// backward and seeks; must never crash, hang or read out of bounds (run under
// ASan/UBSan). Owned by the table engineer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/block.h"

using dkv::storage::Block;
using dkv::storage::BlockIter;
using dkv::storage::BytewiseComparator;

// Bounds each walk: a garbage restart array can make a block "long".
constexpr int kMaxSteps = 10000;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  Block block(input);
  BlockIter it(&block, BytewiseComparator());
  size_t sink = 0;
  int steps = 0;
  for (it.SeekToFirst(); it.Valid() && steps < kMaxSteps; it.Next(), steps++) {
    sink += it.key().size() + it.value().size();
  }
  steps = 0;
  for (it.SeekToLast(); it.Valid() && steps < kMaxSteps; it.Prev(), steps++) {
    sink += it.key().size() + it.value().size();
  }
  // Seek to a few targets taken from the input itself and to the extremes.
  const std::string_view targets[] = {std::string_view(), input.substr(0, 8),
                                      input.substr(size / 2, 8), std::string_view("\xff\xff")};
  for (std::string_view t : targets) {
    it.Seek(t);
    if (it.Valid()) {
      it.Prev();
      if (it.Valid()) it.Next();
    }
  }
  (void)it.status();
  return sink == SIZE_MAX ? 1 : 0;
}

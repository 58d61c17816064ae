// Fuzz target: arbitrary bytes as one MANIFEST record (VersionEdit). Decoding
// must never crash or read out of bounds; whatever decodes must re-encode to
// bytes that decode to the same edit.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/assert.h"
#include "storage/version_edit.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  dkv::storage::VersionEdit edit;
  dkv::Status s = edit.DecodeFrom(input);
  if (!s.ok()) {
    DKV_ASSERT(s.IsCorruption());
    return 0;
  }
  std::string once;
  edit.EncodeTo(&once);
  dkv::storage::VersionEdit again;
  DKV_ASSERT(again.DecodeFrom(once).ok());
  std::string twice;
  again.EncodeTo(&twice);
  DKV_ASSERT(once == twice);
  return 0;
}

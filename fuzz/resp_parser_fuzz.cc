// libFuzzer target for the RESP request parser (src/server/resp_parser.h):
// arbitrary client bytes, fed in two pieces split at the first input byte,
// must never crash, hang or make the parser hold more than it was given.
// Needs dkv_server_core (or dkv_server) in fuzz/CMakeLists.txt's link list.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/assert.h"
#include "server/resp_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  dkv::server::RespParserLimits limits;
  limits.proto_max_bulk_len = 1 << 16;  // keep inputs meaningful for the fuzzer
  limits.inline_max_size = 1 << 12;
  dkv::server::RespParser parser(limits);
  size_t split = data[0] % size;
  const char* bytes = reinterpret_cast<const char*>(data);
  size_t fed = 0;
  for (size_t piece = 0; piece < 2; piece++) {
    size_t begin = piece == 0 ? 1 : split + 1;
    size_t end = piece == 0 ? split + 1 : size;
    if (begin > end) continue;
    parser.Append(std::string_view(bytes + begin, end - begin));
    fed += end - begin;
    std::vector<std::string> argv;
    std::string error;
    for (int i = 0; i < 100000; i++) {
      auto r = parser.Next(&argv, &error);
      if (r == dkv::server::RespParser::Result::kNeedMore) break;
      if (r == dkv::server::RespParser::Result::kError) return 0;
      DKV_ASSERT(!argv.empty());
    }
    DKV_ASSERT(parser.buffered_bytes() <= fed);
  }
  return 0;
}

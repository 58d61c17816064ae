#include "common/assert.h"

#include <cstdio>
#include <cstdlib>

namespace dkv::detail {

void AssertFail(const char* expr, const char* file, int line, const char* func) {
  std::fprintf(stderr, "distkv: assertion failed: %s at %s:%d in %s\n", expr, file, line, func);
  std::fflush(stderr);
  std::abort();
}

}  // namespace dkv::detail

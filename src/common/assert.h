// Invariant checks that stay on in release builds.
//
// DKV_ASSERT is for what only a bug can break: a violated invariant means the
// process's state can no longer be trusted, so it prints where and aborts.
// Anything the outside world can cause (bad bytes, a missing file, a peer that
// lies) is a Status, never an assertion. DKV_DASSERT is the same check compiled
// only in debug builds, for the few hot loops where the cost shows.
#pragma once

namespace dkv::detail {
[[noreturn]] void AssertFail(const char* expr, const char* file, int line, const char* func);
}  // namespace dkv::detail

#define DKV_ASSERT(cond)                                                   \
  do {                                                                     \
    if (__builtin_expect(!(cond), 0)) {                                    \
      ::dkv::detail::AssertFail(#cond, __FILE__, __LINE__, __func__);      \
    }                                                                      \
  } while (0)

#ifdef NDEBUG
#define DKV_DASSERT(cond) \
  do {                    \
  } while (0)
#else
#define DKV_DASSERT(cond) DKV_ASSERT(cond)
#endif

// Marks code that must never run (e.g. the default of a switch over a frozen enum).
#define DKV_UNREACHABLE() ::dkv::detail::AssertFail("unreachable", __FILE__, __LINE__, __func__)

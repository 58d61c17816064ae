// The linearizability checker: is there an order of the operations in a
// History, each placed between its invocation and its completion, that a
// single sequential key-value map would have produced?
//
// Keys are independent, so the history is split per key and each part is
// searched with the Wing & Gong algorithm as improved by Lowe and used by
// Porcupine: a depth-first search over "which pending operation takes effect
// next", with a cache of (set of operations already linearized, map state)
// pairs already explored. The search is exponential in the worst case, so it
// runs under a step budget (deterministic) and an optional wall-time budget,
// and answers Unknown when it runs out rather than hanging. Stateless
// functions; safe to call from many threads on different histories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "check/history.h"

namespace dkv::check {

enum class Verdict : uint8_t {
  kOk = 0,         // a linearization exists for every key
  kViolation = 1,  // some key has none; see CheckResult::key / ops
  kUnknown = 2,    // the budget ran out before an answer
};

const char* VerdictName(Verdict verdict);

struct CheckOptions {
  // Search steps (one step = one attempt to linearize an operation) over the
  // whole history. 20 million keeps a hopeless search under a few seconds.
  uint64_t max_steps = 20'000'000;
  // Wall-clock budget in milliseconds; 0 = none. Non-deterministic by nature:
  // the simulator leaves it at 0 and relies on max_steps.
  int64_t max_wall_ms = 0;
  // A violating key is shrunk to a smaller sub-history that still fails: the
  // tail no kept operation could have seen is cut, then reads are dropped in
  // ever smaller chunks. Each attempt is one more search, hence this bound.
  size_t max_shrink_searches = 400;
  // Operations printed in the explanation (the ones nearest the failure).
  size_t max_explained_ops = 40;
};

struct CheckResult {
  Verdict verdict = Verdict::kOk;
  // On kViolation: the key, and the indices (into the input History) of a
  // small set of its operations that is by itself not linearizable, in order
  // of invocation. On kUnknown: the key whose search ran out.
  std::string key;
  std::vector<size_t> ops;
  // Human-readable: the key, the operations involved, and the longest partial
  // order the search managed before it got stuck.
  std::string explanation;
  uint64_t steps = 0;  // search steps spent in total
};

// Checks `history`. Operations with kUnknownCompletion may take effect at any
// time after their invocation, or never. REQUIRES: invoke_us <= complete_us
// for every operation.
CheckResult CheckLinearizable(const History& history, const CheckOptions& options = {});

}  // namespace dkv::check

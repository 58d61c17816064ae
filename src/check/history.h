// History: what clients observed of a key-value store, as input to the checker.
//
// An Operation is one client request (get, put, compare-and-set or increment on one key)
// with the virtual time it was invoked and the time its reply arrived. When no
// reply arrived (a timeout, a crashed server) the outcome is unknown: the
// operation may have taken effect at any moment after it was invoked, or never.
// Plain values; the simulator builds a History and hands it to the checker.
// Not thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace dkv::check {

enum class OpKind : uint8_t {
  kGet = 0,  // reads the key: output is the value, or nullopt for absent
  kPut = 1,  // writes `value` unconditionally; output is ignored
  kCas = 2,  // if the key holds `expected` (nullopt = absent) writes `value`; output cas_ok
  // Redis INCR: the key holds a decimal integer (absent = 0) and becomes it
  // plus one; output is the new value's text. A failed INCR (not an integer)
  // is not recorded.
  kIncr = 3,
};

// A completion time that never comes: the outcome is unknown.
inline constexpr int64_t kUnknownCompletion = std::numeric_limits<int64_t>::max();

struct Operation {
  uint64_t client = 0;
  OpKind kind = OpKind::kGet;
  std::string key;

  // Inputs.
  std::string value;                    // put / cas: the value to write
  std::optional<std::string> expected;  // cas: the value the key must hold (nullopt = absent)

  // Outputs (meaningful only when the outcome is known).
  std::optional<std::string> output;  // get: the value read (nullopt = absent)
  bool cas_ok = false;                // cas: whether the swap happened

  int64_t invoke_us = 0;
  int64_t complete_us = kUnknownCompletion;  // kUnknownCompletion: outcome unknown

  bool unknown() const { return complete_us == kUnknownCompletion; }
  // True if the operation cannot change the key whatever it returned.
  bool read_only() const {
    return kind == OpKind::kGet || (kind == OpKind::kCas && !unknown() && !cas_ok);
  }

  static Operation Get(uint64_t client, std::string key, std::optional<std::string> output,
                       int64_t invoke_us, int64_t complete_us);
  static Operation Put(uint64_t client, std::string key, std::string value, int64_t invoke_us,
                       int64_t complete_us);
  // `output`: the new value (nullopt when the outcome is unknown).
  static Operation Incr(uint64_t client, std::string key, std::optional<std::string> output,
                        int64_t invoke_us, int64_t complete_us);
  static Operation Cas(uint64_t client, std::string key, std::optional<std::string> expected,
                       std::string value, bool cas_ok, int64_t invoke_us, int64_t complete_us);
};

using History = std::vector<Operation>;

// One line, e.g. `c3 put(k1, "v7") [120, 340]` or `c1 get(k1) -> "v2" [5, ?]`.
std::string Describe(const Operation& op);

}  // namespace dkv::check

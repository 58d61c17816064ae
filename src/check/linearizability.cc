#include "check/linearizability.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "common/assert.h"
#include "common/random.h"

namespace dkv::check {

namespace {

constexpr int32_t kAbsent = -1;  // the interned "no value" state
constexpr int32_t kNil = -1;     // end of the entry list

// One operation of a single key, with its values interned as small integers
// so that a state is an int32 and a step is a few comparisons.
struct KeyOp {
  size_t history_index = 0;
  OpKind kind = OpKind::kGet;
  int32_t value = kAbsent;     // put / cas: new value
  int32_t expected = kAbsent;  // cas
  int32_t output = kAbsent;    // get
  bool cas_ok = false;
  bool unknown = false;
  // kIncr: output is the new value; the key's successor table (state id ->
  // id of that integer plus one, kNoSuccessor when not an integer).
  const std::vector<int32_t>* successor = nullptr;
  int32_t successor_of_absent = -2;
};

constexpr int32_t kNoSuccessor = -2;

struct CacheKey {
  std::vector<uint64_t> bits;
  int32_t state;
  uint64_t hash;
  bool operator==(const CacheKey& o) const { return state == o.state && bits == o.bits; }
};
struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const {
    return static_cast<size_t>(k.hash ^ (static_cast<uint64_t>(k.state) * 0x9e3779b97f4a7c15ULL));
  }
};

// The sequential specification: applies `op` to `state`. Returns false when
// the op's recorded output is impossible from `state`. An unknown-outcome CAS
// is only ever tried as "it succeeded": "it failed" has no effect, which is
// the same as leaving it pending until the end, where it costs nothing.
bool Step(int32_t state, const KeyOp& op, int32_t* next_state) {
  switch (op.kind) {
    case OpKind::kGet:
      *next_state = state;
      return state == op.output;
    case OpKind::kPut:
      *next_state = op.value;
      return true;
    case OpKind::kCas:
      if (op.unknown || op.cas_ok) {
        *next_state = op.value;
        return state == op.expected;
      }
      *next_state = state;
      return state != op.expected;
    case OpKind::kIncr: {
      const int32_t n = state == kAbsent ? op.successor_of_absent
                                         : (static_cast<size_t>(state) < op.successor->size()
                                                ? (*op.successor)[state]
                                                : kNoSuccessor);
      if (n == kNoSuccessor) return false;  // not an integer: that INCR would have failed
      *next_state = n;
      return op.unknown || n == op.output;
    }
  }
  DKV_UNREACHABLE();
}

class Clock {
 public:
  explicit Clock(int64_t max_wall_ms)
      : max_wall_ms_(max_wall_ms), start_(std::chrono::steady_clock::now()) {}
  bool Expired() const {
    if (max_wall_ms_ <= 0) return false;
    auto elapsed = std::chrono::steady_clock::now() - start_;
    return std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() >= max_wall_ms_;
  }

 private:
  int64_t max_wall_ms_;
  std::chrono::steady_clock::time_point start_;
};

struct KeyOutcome {
  Verdict verdict = Verdict::kOk;
  uint64_t steps = 0;
  std::vector<int> best_order;  // longest partial linearization (local indices)
  int blocked = -1;             // local index of the op whose completion stopped it
};

// Searches one key's operations. `ops` are in invocation order.
KeyOutcome SearchKey(const std::vector<KeyOp>& ops, const std::vector<const Operation*>& source,
                     uint64_t max_steps, const Clock& clock) {
  KeyOutcome out;
  const int n = static_cast<int>(ops.size());
  // Entries: 0 = head sentinel, 1 + 2i = call of op i, 2 + 2i = return of op i.
  struct Sortable {
    int64_t time;
    int is_return;
    int op;
  };
  std::vector<Sortable> order;
  order.reserve(2 * n);
  int known_remaining = 0;
  for (int i = 0; i < n; ++i) {
    order.push_back({source[i]->invoke_us, 0, i});
    if (!ops[i].unknown) {
      order.push_back({source[i]->complete_us, 1, i});
      ++known_remaining;
    }
  }
  // Calls sort before returns at equal times: touching intervals count as
  // concurrent, the lenient reading of a clock with finite resolution.
  std::sort(order.begin(), order.end(), [](const Sortable& a, const Sortable& b) {
    if (a.time != b.time) return a.time < b.time;
    if (a.is_return != b.is_return) return a.is_return < b.is_return;
    return a.op < b.op;
  });
  const int entries = 2 * n + 1;
  std::vector<int32_t> next(entries, kNil), prev(entries, kNil);
  int32_t last = 0;
  for (const Sortable& s : order) {
    int32_t id = 1 + 2 * s.op + s.is_return;
    next[last] = id;
    prev[id] = last;
    last = id;
  }
  auto remove = [&](int32_t x) {
    next[prev[x]] = next[x];
    if (next[x] != kNil) prev[next[x]] = prev[x];
  };
  auto reinsert = [&](int32_t x) {
    next[prev[x]] = x;
    if (next[x] != kNil) prev[next[x]] = x;
  };

  // Zobrist hashing of the linearized set keeps cache lookups O(words).
  Rng rng(0x5eed);
  std::vector<uint64_t> zobrist(n);
  for (auto& z : zobrist) z = rng.Next();
  std::vector<uint64_t> bits((n + 63) / 64, 0);
  uint64_t hash = 0;
  auto flip = [&](int op) {
    bits[op / 64] ^= uint64_t{1} << (op % 64);
    hash ^= zobrist[op];
  };

  std::unordered_set<CacheKey, CacheKeyHash> cache;
  struct Frame {
    int32_t call_entry;
    int32_t state_before;
  };
  std::vector<Frame> stack;
  int32_t state = kAbsent;
  size_t best_depth = 0;
  bool blocked_recorded = true;
  int32_t entry = next[0];

  while (known_remaining > 0) {
    if (++out.steps > max_steps || ((out.steps & 4095) == 0 && clock.Expired())) {
      out.verdict = Verdict::kUnknown;
      return out;
    }
    if (entry != kNil && (entry % 2) == 1) {  // a call
      const int op = (entry - 1) / 2;
      int32_t next_state;
      if (Step(state, ops[op], &next_state)) {
        flip(op);
        if (cache.insert(CacheKey{bits, next_state, hash}).second) {
          stack.push_back({entry, state});
          state = next_state;
          remove(entry);
          if (!ops[op].unknown) {
            remove(entry + 1);
            --known_remaining;
          }
          if (stack.size() > best_depth) {
            best_depth = stack.size();
            out.best_order.clear();
            for (const Frame& f : stack) out.best_order.push_back((f.call_entry - 1) / 2);
            blocked_recorded = false;
          }
          entry = next[0];
          continue;
        }
        flip(op);
      }
      entry = next[entry];
      continue;
    }
    // A return (or the end): the op it belongs to was not linearized in
    // time, so undo the most recent choice and try the next candidate.
    if (!blocked_recorded && entry != kNil) {
      out.blocked = (entry - 2) / 2;
      blocked_recorded = true;
    }
    if (stack.empty()) {
      out.verdict = Verdict::kViolation;
      return out;
    }
    Frame f = stack.back();
    stack.pop_back();
    const int op = (f.call_entry - 1) / 2;
    flip(op);
    state = f.state_before;
    if (!ops[op].unknown) {
      reinsert(f.call_entry + 1);
      ++known_remaining;
    }
    reinsert(f.call_entry);
    entry = next[f.call_entry];
  }
  return out;
}

// A canonical decimal int64 ("-0", "01", "+1" are not).
bool CanonicalInt(std::string_view s, int64_t* v) {
  if (s.empty() || s.size() > 20) return false;
  const std::string str(s);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(str.c_str(), &end, 10);
  if (errno != 0 || end != str.c_str() + str.size()) return false;
  if (std::to_string(x) != str) return false;
  *v = x;
  return true;
}

// The most integer states one key's INCR search may need (observed values
// and up to one per INCR above each): bounds the successor table.
constexpr size_t kMaxIncrStates = 1 << 20;

// Interns one key's operations (given as indices into `history`). INCRs get
// the key's successor table in `successor`, which must outlive `ops`.
void BuildKeyOps(const History& history, const std::vector<size_t>& indices,
                 std::vector<KeyOp>* ops, std::vector<const Operation*>* source,
                 std::vector<int32_t>* successor) {
  std::unordered_map<std::string_view, int32_t> ids;
  std::deque<std::string> made;  // texts of integer states nobody observed
  // Views point into `history`, which outlives this function's use of them.
  auto intern = [&](const std::string* v) -> int32_t {
    if (v == nullptr) return kAbsent;
    auto [it, inserted] = ids.emplace(*v, static_cast<int32_t>(ids.size()));
    return it->second;
  };
  auto opt = [](const std::optional<std::string>& v) { return v.has_value() ? &*v : nullptr; };
  ops->clear();
  source->clear();
  for (size_t i : indices) {
    const Operation& o = history[i];
    KeyOp k;
    k.history_index = i;
    k.kind = o.kind;
    k.unknown = o.unknown();
    k.cas_ok = o.cas_ok;
    if (o.kind == OpKind::kPut || o.kind == OpKind::kCas) k.value = intern(&o.value);
    if (o.kind == OpKind::kCas) k.expected = intern(opt(o.expected));
    if (o.kind == OpKind::kGet || o.kind == OpKind::kIncr) k.output = intern(opt(o.output));
    ops->push_back(k);
    source->push_back(&o);
  }
  size_t incrs = 0;
  for (const KeyOp& k : *ops) incrs += k.kind == OpKind::kIncr ? 1 : 0;
  successor->clear();
  if (incrs == 0) return;
  // Every integer state the search may reach: from each observed integer
  // (and from absent = 0) up to one step per INCR.
  std::vector<int64_t> bases = {0};
  for (const auto& [text, id] : ids) {
    int64_t v;
    if (CanonicalInt(text, &v)) bases.push_back(v);
  }
  std::sort(bases.begin(), bases.end());
  size_t added = 0;
  int64_t covered_to = INT64_MIN;  // bases sorted: skip what a lower base covered
  for (int64_t b : bases) {
    for (uint64_t step = 1; step <= incrs && added < kMaxIncrStates; step++) {
      if (b > INT64_MAX - static_cast<int64_t>(step)) break;
      const int64_t v = b + static_cast<int64_t>(step);
      if (v <= covered_to) continue;
      made.push_back(std::to_string(v));
      intern(&made.back());
      added++;
    }
    if (b <= INT64_MAX - static_cast<int64_t>(incrs))
      covered_to = std::max(covered_to, b + static_cast<int64_t>(incrs));
  }
  std::vector<std::string_view> names(ids.size());
  for (const auto& [text, id] : ids) names[static_cast<size_t>(id)] = text;
  successor->assign(ids.size(), kNoSuccessor);
  for (size_t id = 0; id < names.size(); id++) {
    int64_t v;
    if (!CanonicalInt(names[id], &v) || v == INT64_MAX) continue;
    auto it = ids.find(std::to_string(v + 1));
    if (it != ids.end()) (*successor)[id] = it->second;
  }
  const auto one = ids.find("1");
  for (KeyOp& k : *ops) {
    if (k.kind != OpKind::kIncr) continue;
    k.successor = successor;
    k.successor_of_absent = one != ids.end() ? one->second : kNoSuccessor;
  }
}

KeyOutcome RunKey(const History& history, const std::vector<size_t>& indices, uint64_t max_steps,
                  const Clock& clock) {
  std::vector<KeyOp> ops;
  std::vector<const Operation*> source;
  std::vector<int32_t> successor;
  BuildKeyOps(history, indices, &ops, &source, &successor);
  return SearchKey(ops, source, max_steps, clock);
}

std::string Quote(const std::optional<std::string>& v) {
  return v.has_value() ? "\"" + *v + "\"" : std::string("<absent>");
}

}  // namespace

Operation Operation::Get(uint64_t client, std::string key, std::optional<std::string> output,
                         int64_t invoke_us, int64_t complete_us) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kGet;
  op.key = std::move(key);
  op.output = std::move(output);
  op.invoke_us = invoke_us;
  op.complete_us = complete_us;
  return op;
}

Operation Operation::Put(uint64_t client, std::string key, std::string value, int64_t invoke_us,
                         int64_t complete_us) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.invoke_us = invoke_us;
  op.complete_us = complete_us;
  return op;
}

Operation Operation::Incr(uint64_t client, std::string key, std::optional<std::string> output,
                          int64_t invoke_us, int64_t complete_us) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kIncr;
  op.key = std::move(key);
  op.output = std::move(output);
  op.invoke_us = invoke_us;
  op.complete_us = complete_us;
  return op;
}

Operation Operation::Cas(uint64_t client, std::string key, std::optional<std::string> expected,
                         std::string value, bool cas_ok, int64_t invoke_us, int64_t complete_us) {
  Operation op;
  op.client = client;
  op.kind = OpKind::kCas;
  op.key = std::move(key);
  op.expected = std::move(expected);
  op.value = std::move(value);
  op.cas_ok = cas_ok;
  op.invoke_us = invoke_us;
  op.complete_us = complete_us;
  return op;
}

std::string Describe(const Operation& op) {
  std::string s = "c" + std::to_string(op.client) + " ";
  switch (op.kind) {
    case OpKind::kGet:
      s += "get(" + op.key + ")";
      if (!op.unknown()) s += " -> " + Quote(op.output);
      break;
    case OpKind::kPut:
      s += "put(" + op.key + ", \"" + op.value + "\")";
      break;
    case OpKind::kCas:
      s += "cas(" + op.key + ", " + Quote(op.expected) + " -> \"" + op.value + "\")";
      if (!op.unknown()) s += op.cas_ok ? " -> ok" : " -> failed";
      break;
    case OpKind::kIncr:
      s += "incr(" + op.key + ")";
      if (!op.unknown()) s += " -> " + Quote(op.output);
      break;
  }
  s += " [" + std::to_string(op.invoke_us) + ", ";
  s += op.unknown() ? std::string("?") : std::to_string(op.complete_us);
  s += "]";
  return s;
}

const char* VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "Ok";
    case Verdict::kViolation:
      return "Violation";
    case Verdict::kUnknown:
      return "Unknown";
  }
  DKV_UNREACHABLE();
}

CheckResult CheckLinearizable(const History& history, const CheckOptions& options) {
  CheckResult result;
  const Clock clock(options.max_wall_ms);

  // Partition by key (std::map: a deterministic key order). A get whose reply
  // never came constrains nothing and is dropped here.
  std::map<std::string_view, std::vector<size_t>> by_key;
  for (size_t i = 0; i < history.size(); ++i) {
    const Operation& op = history[i];
    DKV_ASSERT(op.invoke_us <= op.complete_us);
    if (op.kind == OpKind::kGet && op.unknown()) continue;
    by_key[op.key].push_back(i);
  }
  for (auto& [key, indices] : by_key) {
    std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
      return history[a].invoke_us < history[b].invoke_us;
    });
  }

  bool any_unknown = false;
  std::string unknown_key;
  for (const auto& key_and_indices : by_key) {
    // Named (not a structured binding) so the lambdas below can capture them.
    const auto& key = key_and_indices.first;
    const auto& indices = key_and_indices.second;
    const uint64_t left = options.max_steps > result.steps ? options.max_steps - result.steps : 0;
    KeyOutcome outcome = RunKey(history, indices, left, clock);
    result.steps += outcome.steps;
    if (outcome.verdict == Verdict::kUnknown) {
      if (!any_unknown) unknown_key = std::string(key);
      any_unknown = true;
      continue;
    }
    if (outcome.verdict == Verdict::kOk) continue;

    // A violation. Shrink it, soundly: every sub-history tried is one whose
    // failure implies the original's.
    size_t searches = 0;
    auto still_fails = [&](const std::vector<size_t>& trial) {
      ++searches;
      const uint64_t budget =
          options.max_steps > result.steps ? options.max_steps - result.steps : 0;
      KeyOutcome t = RunKey(history, trial, budget, clock);
      result.steps += t.steps;
      if (t.verdict != Verdict::kViolation) return false;
      outcome = std::move(t);
      return true;
    };
    // (1) Cut the tail. The first k operations by invocation, closed under
    // "invoked before some kept operation with a known outcome completed":
    // whatever is cut was invoked after every kept operation had finished, so
    // it can neither explain nor be observed by them.
    auto closure = [&](size_t k) {
      int64_t horizon = std::numeric_limits<int64_t>::min();
      size_t end = 0;
      while (end < indices.size() && (end < k || history[indices[end]].invoke_us <= horizon)) {
        const Operation& op = history[indices[end]];
        if (!op.unknown()) horizon = std::max(horizon, op.complete_us);
        ++end;
      }
      return std::vector<size_t>(indices.begin(), indices.begin() + end);
    };
    std::vector<size_t> kept = indices;
    size_t lo = 1, hi = indices.size();
    while (lo < hi && searches < options.max_shrink_searches) {
      const size_t mid = lo + (hi - lo) / 2;
      std::vector<size_t> trial = closure(mid);
      if (trial.size() < kept.size() && still_fails(trial)) {
        kept = std::move(trial);
        hi = mid;
      } else if (trial.size() >= kept.size()) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    // (2) Drop read-only operations (gets, failed CAS), in chunks that halve.
    // A read cannot make a history fail by its absence. (Dropping a write
    // could: a read of the value it wrote would become unexplained.)
    for (size_t chunk = kept.size() / 2; chunk >= 1; chunk /= 2) {
      for (size_t start = 0; start < kept.size() && searches < options.max_shrink_searches;) {
        std::vector<size_t> trial;
        size_t dropped = 0;
        for (size_t pos = 0; pos < kept.size(); ++pos) {
          const bool in_chunk = pos >= start && pos < start + chunk;
          if (in_chunk && history[kept[pos]].read_only()) {
            ++dropped;
          } else {
            trial.push_back(kept[pos]);
          }
        }
        if (dropped > 0 && still_fails(trial)) {
          kept = std::move(trial);  // retry the same position: new ops slid in
        } else {
          start += chunk;
        }
      }
      if (searches >= options.max_shrink_searches) break;
    }
    result.verdict = Verdict::kViolation;
    result.key = std::string(key);
    result.ops = kept;
    std::string& e = result.explanation;
    e = "key " + result.key + ": these " + std::to_string(kept.size()) +
        " operations have no linearization:\n";
    // The search fails near the end of what is kept, so show the last ones.
    const size_t first_shown =
        kept.size() > options.max_explained_ops ? kept.size() - options.max_explained_ops : 0;
    if (first_shown > 0) {
      e += "  ... " + std::to_string(first_shown) + " earlier ones omitted (see ops)\n";
    }
    for (size_t pos = first_shown; pos < kept.size(); ++pos) {
      e += "  #" + std::to_string(kept[pos]) + " " + Describe(history[kept[pos]]) + "\n";
    }
    e += "longest partial order found:";
    if (outcome.best_order.empty()) e += " (none)";
    const size_t order_shown = std::min(outcome.best_order.size(), options.max_explained_ops);
    if (order_shown < outcome.best_order.size()) e += " ...";
    for (size_t pos = outcome.best_order.size() - order_shown; pos < outcome.best_order.size();
         ++pos) {
      e += " #" + std::to_string(kept[outcome.best_order[pos]]);
    }
    e += "\n";
    if (outcome.blocked >= 0) {
      e += "then #" + std::to_string(kept[outcome.blocked]) +
           " completed but could not be placed: " + Describe(history[kept[outcome.blocked]]) + "\n";
    }
    return result;
  }
  if (any_unknown) {
    result.verdict = Verdict::kUnknown;
    result.key = unknown_key;
    result.explanation = "key " + unknown_key + ": search budget exhausted after " +
                         std::to_string(result.steps) + " steps";
  }
  return result;
}

}  // namespace dkv::check

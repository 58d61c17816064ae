#include "check/linearizability.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "common/random.h"

namespace dkv::check {
namespace {

constexpr int64_t kU = kUnknownCompletion;

Operation Get(uint64_t c, std::optional<std::string> out, int64_t a, int64_t b,
              std::string key = "k") {
  return Operation::Get(c, std::move(key), std::move(out), a, b);
}
Operation Put(uint64_t c, std::string v, int64_t a, int64_t b, std::string key = "k") {
  return Operation::Put(c, std::move(key), std::move(v), a, b);
}
Operation Cas(uint64_t c, std::optional<std::string> exp, std::string v, bool ok, int64_t a,
              int64_t b, std::string key = "k") {
  return Operation::Cas(c, std::move(key), std::move(exp), std::move(v), ok, a, b);
}

Operation Incr(uint64_t c, std::optional<std::string> out, int64_t a, int64_t b,
               std::string key = "k") {
  return Operation::Incr(c, std::move(key), std::move(out), a, b);
}

TEST(LinearizabilityTest, IncrCountsFromAbsentAndFromAPutInteger) {
  EXPECT_EQ(CheckLinearizable({Incr(1, "1", 0, 1), Incr(2, "2", 2, 3), Get(1, "2", 4, 5)}).verdict,
            Verdict::kOk);
  EXPECT_EQ(CheckLinearizable({Put(1, "41", 0, 1), Incr(2, "42", 2, 3)}).verdict, Verdict::kOk);
  // Concurrent INCRs may take effect in either order.
  EXPECT_EQ(CheckLinearizable({Incr(1, "2", 0, 10), Incr(2, "1", 1, 9)}).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, IncrHandingOutAValueTwiceIsAViolation) {
  EXPECT_EQ(CheckLinearizable({Incr(1, "1", 0, 10), Incr(2, "1", 1, 9)}).verdict,
            Verdict::kViolation);
  // A sequential INCR that skips a value, or reads back older, is one too.
  EXPECT_EQ(CheckLinearizable({Incr(1, "1", 0, 1), Incr(1, "3", 2, 3)}).verdict,
            Verdict::kViolation);
  EXPECT_EQ(CheckLinearizable({Incr(1, "1", 0, 1), Incr(1, "2", 2, 3), Get(2, "1", 4, 5)}).verdict,
            Verdict::kViolation);
  // On a value that is not an integer it would have failed (and is not recorded).
  EXPECT_EQ(CheckLinearizable({Put(1, "x", 0, 1), Incr(2, "1", 2, 3)}).verdict,
            Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownIncrMayOrMayNotHaveCounted) {
  // Taken effect: the next known INCR sees it (through unobserved "2").
  EXPECT_EQ(
      CheckLinearizable({Incr(1, "1", 0, 1), Incr(2, std::nullopt, 2, kU), Incr(1, "3", 5, 6)})
          .verdict,
      Verdict::kOk);
  // Or never.
  EXPECT_EQ(
      CheckLinearizable({Incr(1, "1", 0, 1), Incr(2, std::nullopt, 2, kU), Incr(1, "2", 5, 6)})
          .verdict,
      Verdict::kOk);
  // Two steps need two unknown INCRs.
  EXPECT_EQ(
      CheckLinearizable({Incr(1, "1", 0, 1), Incr(2, std::nullopt, 2, kU), Incr(1, "4", 5, 6)})
          .verdict,
      Verdict::kViolation);
  EXPECT_EQ(CheckLinearizable({Incr(1, "1", 0, 1), Incr(2, std::nullopt, 2, kU),
                               Incr(3, std::nullopt, 2, kU), Incr(1, "4", 5, 6)})
                .verdict,
            Verdict::kOk);
}

TEST(LinearizabilityTest, EmptyHistoryIsOk) {
  EXPECT_EQ(CheckLinearizable({}).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, SequentialHistoryIsOk) {
  History h = {Get(1, std::nullopt, 0, 1),
               Put(1, "a", 2, 3),
               Get(2, "a", 4, 5),
               Cas(1, "a", "b", true, 6, 7),
               Cas(2, "a", "c", false, 8, 9),
               Get(1, "b", 10, 11)};
  CheckResult r = CheckLinearizable(h);
  EXPECT_EQ(r.verdict, Verdict::kOk) << r.explanation;
}

TEST(LinearizabilityTest, ReadConcurrentWithWriteMaySeeEitherValue) {
  History before = {Put(1, "a", 0, 10), Get(2, std::nullopt, 1, 2)};
  History after = {Put(1, "a", 0, 10), Get(2, "a", 1, 2)};
  EXPECT_EQ(CheckLinearizable(before).verdict, Verdict::kOk);
  EXPECT_EQ(CheckLinearizable(after).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, ConcurrentWritesMayTakeEffectInEitherOrder) {
  History h = {Put(1, "a", 0, 10), Put(2, "b", 1, 9), Get(3, "a", 11, 12), Get(3, "a", 13, 14)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kOk);
  History h2 = {Put(1, "a", 0, 10), Put(2, "b", 1, 9), Get(3, "b", 11, 12)};
  EXPECT_EQ(CheckLinearizable(h2).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, StaleReadIsAViolation) {
  // "b" was written after "a" completed; a later read still returns "a".
  History h = {Put(1, "a", 0, 1), Put(1, "b", 2, 3), Get(2, "a", 4, 5), Get(3, "b", 0, 100)};
  CheckResult r = CheckLinearizable(h);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "k");
  // The concurrent read of "b" is irrelevant and is shrunk away.
  EXPECT_EQ(r.ops, (std::vector<size_t>{0, 1, 2}));
  EXPECT_NE(r.explanation.find("get(k) -> \"a\""), std::string::npos) << r.explanation;
}

TEST(LinearizabilityTest, ViolationInALongHistoryIsShrunkAndBrieflyExplained) {
  History h;
  for (int i = 0; i < 1000; ++i) {
    h.push_back(Put(1, "v" + std::to_string(i), 4 * i, 4 * i + 1));
    h.push_back(Get(2, "v" + std::to_string(i), 4 * i + 2, 4 * i + 3));
  }
  h.push_back(Get(3, "v500", 5000, 5001));  // stale: v1249 was written before
  for (int i = 0; i < 100; ++i) h.push_back(Get(4, "v999", 6000 + 2 * i, 6001 + 2 * i));
  CheckResult r = CheckLinearizable(h);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  // Every read but the stale one is gone, and so is the tail after it.
  for (size_t i : r.ops) EXPECT_TRUE(h[i].kind == OpKind::kPut || i == 2000) << i;
  EXPECT_NE(r.explanation.find("get(k) -> \"v500\" [5000, 5001]"), std::string::npos);
  EXPECT_LT(std::count(r.explanation.begin(), r.explanation.end(), '\n'), 50);
}

TEST(LinearizabilityTest, LostWriteIsAViolation) {
  History h = {Put(1, "a", 0, 1), Get(2, std::nullopt, 2, 3)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, TwoSuccessfulCasFromTheSameValueIsAViolation) {
  // Both clients swapped "a" away; only one of them can have seen "a".
  History h = {Put(1, "a", 0, 1), Cas(2, "a", "b", true, 2, 10), Cas(3, "a", "c", true, 3, 9)};
  CheckResult r = CheckLinearizable(h);
  EXPECT_EQ(r.verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, FailedCasWhenValueMatchedIsAViolation) {
  History h = {Put(1, "a", 0, 1), Cas(2, "a", "b", false, 2, 3)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, CasOnAbsentKey) {
  History ok = {Cas(1, std::nullopt, "a", true, 0, 1), Get(1, "a", 2, 3)};
  EXPECT_EQ(CheckLinearizable(ok).verdict, Verdict::kOk);
  History bad = {Cas(1, std::nullopt, "a", true, 0, 1), Cas(2, std::nullopt, "b", true, 2, 3)};
  EXPECT_EQ(CheckLinearizable(bad).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteMayHaveTakenEffect) {
  History h = {Put(1, "a", 0, kU), Get(2, "a", 50, 60), Get(2, "a", 70, 80)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, UnknownWriteMayNeverTakeEffect) {
  History h = {Put(1, "a", 0, kU), Get(2, std::nullopt, 50, 60), Get(2, std::nullopt, 70, 80)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, UnknownWriteCannotTakeEffectBeforeItsInvocation) {
  History h = {Get(2, "a", 0, 10), Put(1, "a", 20, kU)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownWriteCannotBeSeenThenUnseen) {
  // Once observed it has taken effect; it cannot un-happen.
  History h = {Put(1, "a", 0, kU), Get(2, "a", 10, 20), Get(2, std::nullopt, 30, 40)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kViolation);
}

TEST(LinearizabilityTest, UnknownCasMaySucceedOrNot) {
  History took = {Put(1, "a", 0, 1), Cas(2, "a", "b", false, 2, kU), Get(3, "b", 10, 11)};
  took[1].cas_ok = false;  // ignored: the outcome is unknown
  EXPECT_EQ(CheckLinearizable(took).verdict, Verdict::kOk);
  History not_took = {Put(1, "a", 0, 1), Cas(2, "a", "b", true, 2, kU), Get(3, "a", 10, 11)};
  EXPECT_EQ(CheckLinearizable(not_took).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, UnknownGetIsIgnored) {
  History h = {Put(1, "a", 0, 1), Get(2, "zzz", 2, kU)};
  EXPECT_EQ(CheckLinearizable(h).verdict, Verdict::kOk);
}

TEST(LinearizabilityTest, KeysAreCheckedIndependently) {
  History h = {Put(1, "a", 0, 1, "x"), Put(1, "b", 0, 1, "y"), Get(2, "a", 2, 3, "x"),
               Get(2, "a", 2, 3, "y")};
  CheckResult r = CheckLinearizable(h);
  ASSERT_EQ(r.verdict, Verdict::kViolation);
  EXPECT_EQ(r.key, "y");
}

TEST(LinearizabilityTest, HugeConcurrentHistoryHitsBudgetAndReturnsUnknown) {
  // 300 fully concurrent writes of distinct values, then a read of a value
  // nobody wrote. Deciding "violation" needs every subset of the writes.
  History h;
  for (int i = 0; i < 300; ++i) h.push_back(Put(i, "v" + std::to_string(i), 0, 1000));
  for (int i = 0; i < 300; ++i) h.push_back(Get(1000 + i, "v" + std::to_string(i), 1, 999));
  h.push_back(Get(9999, "never", 2, 998));
  CheckOptions options;
  options.max_steps = 200'000;
  CheckResult r = CheckLinearizable(h, options);
  EXPECT_EQ(r.verdict, Verdict::kUnknown);
  EXPECT_EQ(r.key, "k");
  EXPECT_LE(r.steps, options.max_steps + 1);
}

TEST(LinearizabilityTest, WallClockBudgetAlsoStopsTheSearch) {
  History h;
  for (int i = 0; i < 300; ++i) h.push_back(Put(i, "v" + std::to_string(i), 0, 1000));
  for (int i = 0; i < 300; ++i) h.push_back(Get(1000 + i, "v" + std::to_string(i), 1, 999));
  h.push_back(Get(9999, "never", 2, 998));
  CheckOptions options;
  options.max_steps = UINT64_MAX;
  options.max_wall_ms = 200;
  EXPECT_EQ(CheckLinearizable(h, options).verdict, Verdict::kUnknown);
}

TEST(LinearizabilityTest, LongSequentialHistoryIsFast) {
  History h;
  for (int i = 0; i < 20000; ++i) {
    h.push_back(Put(1, std::to_string(i), 4 * i, 4 * i + 1));
    h.push_back(Get(2, std::to_string(i), 4 * i + 2, 4 * i + 3));
  }
  CheckResult r = CheckLinearizable(h);
  EXPECT_EQ(r.verdict, Verdict::kOk);
  EXPECT_LT(r.steps, 200'000u);
}

// Runs a random sequential execution against a map, then gives each op an
// interval around its linearization point (10 * i) of random width. Any such
// history is linearizable by construction.
History RandomLinearizableHistory(uint64_t seed, int count, bool with_unknown) {
  Rng rng(seed);
  std::map<std::string, std::string> store;
  History h;
  for (int i = 0; i < count; ++i) {
    const std::string key = "k" + std::to_string(rng.Uniform(3));
    const std::string value = "v" + std::to_string(rng.Uniform(4));
    const int64_t point = 10 * static_cast<int64_t>(i) + 5;
    const int64_t invoke = point - rng.Range(0, 60);
    int64_t complete = point + rng.Range(0, 60);
    const uint64_t client = rng.Uniform(5);
    auto it = store.find(key);
    std::optional<std::string> current =
        it == store.end() ? std::nullopt : std::optional<std::string>(it->second);
    switch (rng.Uniform(3)) {
      case 0:
        h.push_back(Get(client, current, invoke, complete, key));
        break;
      case 1:
        store[key] = value;
        if (with_unknown && rng.OneIn(4)) complete = kU;
        h.push_back(Put(client, value, invoke, complete, key));
        break;
      default: {
        std::optional<std::string> expected;
        if (!rng.OneIn(4)) expected = "v" + std::to_string(rng.Uniform(4));
        const bool ok = expected == current;
        if (ok) store[key] = value;
        if (with_unknown && rng.OneIn(4)) complete = kU;
        h.push_back(Cas(client, expected, value, ok, invoke, complete, key));
      }
    }
  }
  return h;
}

TEST(LinearizabilityTest, PropertyRealSequentialExecutionsAreAlwaysOk) {
  EXPECT_TRUE(
      rc::check("histories from a sequential execution are linearizable", [](uint64_t seed) {
        const int count = *rc::gen::inRange(0, 120);
        const bool with_unknown = *rc::gen::arbitrary<bool>();
        History h = RandomLinearizableHistory(seed, count, with_unknown);
        CheckResult r = CheckLinearizable(h);
        RC_ASSERT(r.verdict == Verdict::kOk);
      }));
}

TEST(LinearizabilityTest, PropertyCorruptingAnIsolatedReadIsCaught) {
  // A read far from any other op of its key (nothing concurrent) that is
  // changed to a value never written must be reported.
  EXPECT_TRUE(rc::check("a read of a never-written value is a violation", [](uint64_t seed) {
    History h = RandomLinearizableHistory(seed, *rc::gen::inRange(1, 60), false);
    h.push_back(Get(77, "never-written", 100000, 100001, "k0"));
    RC_ASSERT(CheckLinearizable(h).verdict == Verdict::kViolation);
  }));
}

}  // namespace
}  // namespace dkv::check

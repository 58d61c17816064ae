#include "time/hlc.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace dkv {
namespace {

// A clock the test sets by hand. Atomic so the concurrency test may share it.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_us) : now_us_(now_us) {}
  int64_t NowMicros() override { return now_us_.load(); }
  int64_t MonotonicMicros() override { return now_us_.load(); }
  void Set(int64_t now_us) { now_us_.store(now_us); }
  void Advance(int64_t delta_us) { now_us_.fetch_add(delta_us); }

 private:
  std::atomic<int64_t> now_us_;
};

constexpr int64_t kMaxOffsetUs = 500'000;

TEST(HlcTest, NowFollowsThePhysicalClock) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'000, 0}));
  clock.Advance(10);
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'010, 0}));
}

TEST(HlcTest, NowWithinOneMicrosecondCountsLogically) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'000, 0}));
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'000, 1}));
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'000, 2}));
  EXPECT_EQ(hlc.Last(), (Timestamp{1'000'000, 2}));
}

TEST(HlcTest, StaysMonotonicWhenThePhysicalClockJumpsBack) {
  ManualClock clock(5'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  Timestamp before = hlc.Now();
  clock.Set(1'000'000);  // NTP step back by four seconds
  Timestamp prev = before;
  for (int i = 0; i < 100; i++) {
    Timestamp ts = hlc.Now();
    EXPECT_GT(ts, prev);
    EXPECT_EQ(ts.wall_time_us, before.wall_time_us);
    prev = ts;
  }
  // Once the physical clock passes the old wall time again, it leads again.
  clock.Set(5'000'001);
  EXPECT_EQ(hlc.Now(), (Timestamp{5'000'001, 0}));
}

TEST(HlcTest, MonotonicUnderRandomClockJumps) {
  EXPECT_TRUE(rc::check("Now/Update never go back whatever the clock does", []() {
    const auto steps = *rc::gen::container<std::vector<std::pair<int64_t, bool>>>(rc::gen::pair(
        rc::gen::inRange<int64_t>(-1'000'000, 1'000'000), rc::gen::arbitrary<bool>()));
    ManualClock clock(1'000'000'000);
    Hlc hlc(clock, kMaxOffsetUs);
    Timestamp prev = hlc.Now();
    for (const auto& [jump_us, receive] : steps) {
      clock.Advance(jump_us);
      Timestamp ts;
      if (receive) {
        // A remote up to max offset ahead or far behind: always accepted.
        Timestamp remote{clock.NowMicros() + jump_us % kMaxOffsetUs,
                         static_cast<uint32_t>(jump_us & 0xff)};
        auto r = hlc.Update(remote);
        RC_ASSERT(r.ok());
        RC_ASSERT(*r > remote);
        ts = *r;
      } else {
        ts = hlc.Now();
      }
      RC_ASSERT(ts > prev);
      RC_ASSERT(ts.wall_time_us >= clock.NowMicros());
      prev = ts;
    }
  }));
}

TEST(HlcTest, ReceiveOrdersAfterSendAndLaterEventsAfterReceive) {
  // Node a's clock is 200 ms ahead of node b's: causality must still hold.
  ManualClock clock_a(10'200'000);
  ManualClock clock_b(10'000'000);
  Hlc a(clock_a, kMaxOffsetUs);
  Hlc b(clock_b, kMaxOffsetUs);
  Timestamp sent = a.Now();
  auto received = b.Update(sent);
  ASSERT_TRUE(received.ok()) << received.status().ToString();
  EXPECT_GT(*received, sent);
  EXPECT_EQ(received->wall_time_us, sent.wall_time_us);
  EXPECT_EQ(received->logical, sent.logical + 1);
  Timestamp later = b.Now();
  EXPECT_GT(later, *received);
  // And back: a reply from b orders after everything a did before.
  Timestamp a_before_reply = a.Now();
  auto reply = a.Update(b.Now());
  ASSERT_TRUE(reply.ok());
  EXPECT_GT(*reply, a_before_reply);
}

TEST(HlcTest, UpdateWithOlderRemoteStillAdvances) {
  ManualClock clock(2'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  Timestamp local = hlc.Now();
  auto r = hlc.Update(Timestamp{1'000'000, 7});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Timestamp{local.wall_time_us, local.logical + 1}));
}

TEST(HlcTest, UpdateTakesMaxLogicalWhenWallTimesTie) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  (void)hlc.Now();
  (void)hlc.Now();  // last = (1'000'000, 1)
  auto r = hlc.Update(Timestamp{1'000'000, 9});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Timestamp{1'000'000, 10}));
}

TEST(HlcTest, RemoteTooFarAheadIsRefusedAndDoesNotAdvance) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  Timestamp before = hlc.Now();
  auto r = hlc.Update(Timestamp{1'000'000 + kMaxOffsetUs + 1, 0});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  const std::string msg = r.status().message();
  EXPECT_NE(msg.find("1500001"), std::string::npos) << msg;  // remote
  EXPECT_NE(msg.find("1000000"), std::string::npos) << msg;  // local
  EXPECT_NE(msg.find("500000"), std::string::npos) << msg;   // max offset
  EXPECT_EQ(hlc.Last(), before);
  EXPECT_EQ(hlc.Now(), (Timestamp{1'000'000, 1}));
}

TEST(HlcTest, RemoteExactlyMaxOffsetAheadIsAccepted) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  auto r = hlc.Update(Timestamp{1'000'000 + kMaxOffsetUs, 3});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Timestamp{1'000'000 + kMaxOffsetUs, 4}));
}

TEST(HlcTest, ExtremeRemoteWallTimesAreRefusedWithoutOverflow) {
  ManualClock clock(-5);  // even a clock reading before the epoch
  Hlc hlc(clock, INT64_MAX);
  auto r = hlc.Update(Timestamp{INT64_MAX, Timestamp::kMaxLogical});
  EXPECT_TRUE(r.status().IsInvalidArgument());
  Hlc strict(clock, 0);
  EXPECT_TRUE(strict.Update(Timestamp{INT64_MAX, 0}).status().IsInvalidArgument());
  EXPECT_TRUE(strict.Update(Timestamp{INT64_MIN, 0}).ok());
}

TEST(HlcTest, LogicalOverflowCarriesIntoWallTime) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  auto r = hlc.Update(Timestamp{1'000'000, Timestamp::kMaxLogical - 1});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (Timestamp{1'000'000, Timestamp::kMaxLogical}));
  Timestamp next = hlc.Now();
  EXPECT_EQ(next, (Timestamp{1'000'001, 0}));
  EXPECT_GT(next, *r);
  // A remote at the maximum counter carries too.
  auto r2 = hlc.Update(Timestamp{1'000'001, Timestamp::kMaxLogical});
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(*r2, (Timestamp{1'000'002, 0}));
}

TEST(HlcTest, ConcurrentCallersGetDistinctIncreasingTimestamps) {
  ManualClock clock(1'000'000);
  Hlc hlc(clock, kMaxOffsetUs);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  std::vector<std::vector<Timestamp>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i++) {
        if (i % 100 == 0) clock.Advance(1);
        seen[t].push_back(i % 7 == 0 ? *hlc.Update(Timestamp{1'000'000, 0}) : hlc.Now());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<Timestamp> all;
  for (const auto& v : seen) {
    for (size_t i = 1; i < v.size(); i++) ASSERT_GT(v[i], v[i - 1]);
    all.insert(all.end(), v.begin(), v.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "duplicate timestamp";
}

TEST(TimestampTest, EncodingIsTwelveBigEndianBytes) {
  Timestamp ts{0x0102030405060708, 0x0a0b0c0d};
  std::string e = ts.Encode();
  ASSERT_EQ(e.size(), Timestamp::kEncodedSize);
  EXPECT_EQ(static_cast<uint8_t>(e[0]), 0x81);  // sign bit flipped
  EXPECT_EQ(static_cast<uint8_t>(e[7]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(e[8]), 0x0a);
  EXPECT_EQ(static_cast<uint8_t>(e[11]), 0x0d);
  EXPECT_EQ(Timestamp{}.Encode(), std::string("\x80\0\0\0\0\0\0\0\0\0\0\0", 12));
}

TEST(TimestampTest, EncodingRoundTrips) {
  EXPECT_TRUE(rc::check("decode(encode(ts)) == ts", [](int64_t wall, uint32_t logical) {
    Timestamp ts{wall, logical};
    auto d = Timestamp::Decode(ts.Encode());
    RC_ASSERT(d.ok());
    RC_ASSERT(*d == ts);
  }));
}

TEST(TimestampTest, EncodingOrderMatchesComparisonOrder) {
  // Small ranges as well as arbitrary values, so ties on wall time are common.
  const auto gen_ts = rc::gen::oneOf(
      rc::gen::construct<Timestamp>(rc::gen::arbitrary<int64_t>(), rc::gen::arbitrary<uint32_t>()),
      rc::gen::construct<Timestamp>(rc::gen::inRange<int64_t>(-3, 3),
                                    rc::gen::inRange<uint32_t>(0, 3)));
  EXPECT_TRUE(rc::check("memcmp(enc(a), enc(b)) has the sign of a <=> b", [&]() {
    const Timestamp a = *gen_ts;
    const Timestamp b = *gen_ts;
    const int c = a.Encode().compare(b.Encode());
    RC_ASSERT((c < 0) == (a < b));
    RC_ASSERT((c == 0) == (a == b));
    RC_ASSERT((c > 0) == (a > b));
  }));
}

TEST(TimestampTest, DecodeRejectsWrongSize) {
  EXPECT_TRUE(Timestamp::Decode("").status().IsCorruption());
  EXPECT_TRUE(Timestamp::Decode(std::string(11, 'x')).status().IsCorruption());
  EXPECT_TRUE(Timestamp::Decode(std::string(13, 'x')).status().IsCorruption());
}

TEST(TimestampTest, StringFormIsWallDotLogical) {
  EXPECT_EQ((Timestamp{1700000000000123, 4}).ToString(), "1700000000000123.4");
}

}  // namespace
}  // namespace dkv

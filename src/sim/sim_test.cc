// Tests of the simulator's building blocks: event loop, network, clock, disk,
// the replicated KV state machine and the scenario table.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "common/random.h"
#include "sim/disk.h"
#include "sim/event_loop.h"
#include "sim/fault_options.h"
#include "sim/kv_state_machine.h"
#include "sim/network.h"
#include "sim/sim_clock.h"

namespace dkv::sim {
namespace {

TEST(EventLoopTest, RunsEventsInTimeOrder) {
  EventLoop loop;
  std::vector<int> order;
  loop.Schedule(30, [&] { order.push_back(3); });
  loop.Schedule(10, [&] { order.push_back(1); });
  loop.Schedule(20, [&] { order.push_back(2); });
  while (loop.RunOne()) {
  }
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(loop.now_us(), 30);
  EXPECT_EQ(loop.events_run(), 3u);
}

TEST(EventLoopTest, EqualTimesRunInSchedulingOrder) {
  EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) loop.Schedule(5, [&order, i] { order.push_back(i); });
  while (loop.RunOne()) {
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
}

TEST(EventLoopTest, EventsScheduledFromEventsRunLaterAtTheSameTime) {
  EventLoop loop;
  std::vector<std::string> order;
  loop.Schedule(0, [&] {
    order.push_back("a");
    loop.Schedule(0, [&] { order.push_back("c"); });
  });
  loop.Schedule(0, [&] { order.push_back("b"); });
  while (loop.RunOne()) {
  }
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(EventLoopTest, CancelledEventDoesNotRun) {
  EventLoop loop;
  bool ran = false;
  auto id = loop.Schedule(10, [&] { ran = true; });
  EXPECT_TRUE(loop.Cancel(id));
  EXPECT_FALSE(loop.Cancel(id));
  EXPECT_EQ(loop.pending(), 0u);
  loop.RunUntil(100);
  EXPECT_FALSE(ran);
  EXPECT_EQ(loop.now_us(), 100);
}

TEST(EventLoopTest, RunUntilStopsAtTheDeadlineAndHonoursStop) {
  EventLoop loop;
  int count = 0;
  for (int i = 1; i <= 10; ++i) loop.Schedule(i * 10, [&] { ++count; });
  loop.RunUntil(45);
  EXPECT_EQ(count, 4);
  EXPECT_EQ(loop.now_us(), 45);
  EXPECT_FALSE(loop.RunUntil(1000, [&] { return count == 6; }));
  EXPECT_EQ(count, 6);
  EXPECT_EQ(loop.now_us(), 60);
}

TEST(EventLoopTest, TraceHashDependsOnContentAndTime) {
  EventLoop a, b, c;
  a.Trace("x");
  b.Trace("x");
  c.Trace("y");
  EXPECT_EQ(a.trace_hash(), b.trace_hash());
  EXPECT_NE(a.trace_hash(), c.trace_hash());
  b.RunUntil(5);
  a.Trace("z");
  b.Trace("z");
  EXPECT_NE(a.trace_hash(), b.trace_hash());
}

TEST(SimClockTest, SkewShiftsWallTimeAndDriftStretchesTime) {
  EventLoop loop;
  SimClock fast(&loop, 1000, 100.0);  // +1 ms, 100 ppm fast
  SimClock exact(&loop, 0, 0.0);
  loop.RunUntil(1'000'000);
  EXPECT_EQ(exact.MonotonicMicros(), 1'000'000);
  EXPECT_EQ(fast.MonotonicMicros(), 1'000'100);
  EXPECT_EQ(fast.NowMicros() - exact.NowMicros(), 1100);
  EXPECT_LT(fast.ToVirtualDuration(10'000), 10'000);
  EXPECT_EQ(exact.ToVirtualDuration(10'000), 10'000);
}

struct NetFixture {
  EventLoop loop;
  Rng rng{42};
  std::vector<std::pair<int64_t, int>> received;  // (time, message id)
  Network net;
  explicit NetFixture(LinkOptions link) : net(&loop, &rng, 5, link) {}
  void Send(NodeIndex from, NodeIndex to, int id) {
    net.Send(from, to, [this, id] { received.emplace_back(loop.now_us(), id); });
  }
  void Drain() {
    while (loop.RunOne()) {
    }
  }
};

TEST(NetworkTest, DeliversWithinLatencyBounds) {
  LinkOptions link;
  link.latency_us_min = 100;
  link.latency_us_max = 200;
  NetFixture f(link);
  for (int i = 0; i < 1000; ++i) f.Send(1, 2, i);
  f.Drain();
  ASSERT_EQ(f.received.size(), 1000u);
  for (auto& [t, id] : f.received) {
    EXPECT_GE(t, 100);
    EXPECT_LE(t, 200);
  }
  EXPECT_EQ(f.net.stats().delivered, 1000u);
}

TEST(NetworkTest, LossDropsAboutTheConfiguredFraction) {
  LinkOptions link;
  link.loss_probability = 0.3;
  NetFixture f(link);
  for (int i = 0; i < 10000; ++i) f.Send(1, 2, i);
  f.Drain();
  EXPECT_EQ(f.received.size() + f.net.stats().lost, 10000u);
  EXPECT_GT(f.net.stats().lost, 2700u);
  EXPECT_LT(f.net.stats().lost, 3300u);
}

TEST(NetworkTest, DuplicationDeliversSomeMessagesTwice) {
  LinkOptions link;
  link.duplicate_probability = 0.2;
  NetFixture f(link);
  for (int i = 0; i < 1000; ++i) f.Send(1, 2, i);
  f.Drain();
  EXPECT_EQ(f.received.size(), 1000u + f.net.stats().duplicated);
  EXPECT_GT(f.net.stats().duplicated, 100u);
  std::map<int, int> copies;
  for (auto& [t, id] : f.received) ++copies[id];
  for (auto& [id, n] : copies) EXPECT_LE(n, 2);
}

TEST(NetworkTest, RandomLatencyReordersMessages) {
  LinkOptions link;
  link.reorder_probability = 0.2;
  NetFixture f(link);
  for (int i = 0; i < 200; ++i) f.Send(1, 2, i);
  f.Drain();
  bool reordered = false;
  for (size_t i = 1; i < f.received.size(); ++i) {
    reordered |= f.received[i].second < f.received[i - 1].second;
  }
  EXPECT_TRUE(reordered);
}

TEST(NetworkTest, SymmetricPartitionBlocksBothWaysOnlyAcrossTheCut) {
  NetFixture f(LinkOptions{});
  f.net.PartitionSymmetric({1, 2}, {3, 4, 5});
  f.Send(1, 3, 1);
  f.Send(3, 1, 2);
  f.Send(1, 2, 3);
  f.Send(4, 5, 4);
  f.Drain();
  ASSERT_EQ(f.received.size(), 2u);
  EXPECT_EQ(f.net.stats().partitioned, 2u);
  f.net.Heal();
  f.Send(1, 3, 5);
  f.Drain();
  EXPECT_EQ(f.received.size(), 3u);
}

TEST(NetworkTest, AsymmetricPartitionBlocksOneDirection) {
  NetFixture f(LinkOptions{});
  f.net.BlockOneWay(1, 2);
  f.Send(1, 2, 1);
  f.Send(2, 1, 2);
  f.Drain();
  ASSERT_EQ(f.received.size(), 1u);
  EXPECT_EQ(f.received[0].second, 2);
}

TEST(NetworkTest, IsolatedNodeNeitherSendsNorHears) {
  NetFixture f(LinkOptions{});
  f.net.Isolate(3);
  for (NodeIndex other : {1, 2, 4, 5}) {
    f.Send(3, other, 1);
    f.Send(other, 3, 2);
  }
  f.Send(1, 2, 3);
  f.Drain();
  ASSERT_EQ(f.received.size(), 1u);
  EXPECT_EQ(f.net.partition_description(), "isolate 3");
}

TEST(NetworkTest, BridgeNodeReachesBothHalvesThatCannotReachEachOther) {
  NetFixture f(LinkOptions{});
  f.net.Bridge({1, 2}, 3, {4, 5});
  EXPECT_TRUE(f.net.Blocked(1, 4));
  EXPECT_TRUE(f.net.Blocked(5, 2));
  EXPECT_FALSE(f.net.Blocked(1, 3));
  EXPECT_FALSE(f.net.Blocked(3, 5));
  EXPECT_FALSE(f.net.Blocked(4, 3));
  EXPECT_FALSE(f.net.Blocked(1, 2));
}

TEST(NetworkTest, MessageInFlightWhenPartitionStartsIsLost) {
  NetFixture f(LinkOptions{});
  f.Send(1, 2, 1);
  f.net.Isolate(2);
  f.Drain();
  EXPECT_TRUE(f.received.empty());
  EXPECT_EQ(f.net.stats().partitioned, 1u);
}

TEST(NetworkTest, PerLinkOptionsOverrideTheDefault) {
  NetFixture f(LinkOptions{});
  LinkOptions slow;
  slow.latency_us_min = 1'000'000;
  slow.latency_us_max = 1'000'000;
  f.net.SetLink(1, 2, slow);
  f.Send(1, 2, 1);
  f.Send(2, 1, 2);
  f.Drain();
  ASSERT_EQ(f.received.size(), 2u);
  EXPECT_EQ(f.received[1].first, 1'000'000);
  EXPECT_EQ(f.received[1].second, 1);
}

TEST(NetworkTest, SameSeedSameDeliveries) {
  LinkOptions link;
  link.loss_probability = 0.1;
  link.duplicate_probability = 0.1;
  link.reorder_probability = 0.1;
  NetFixture a(link), b(link);
  for (int i = 0; i < 500; ++i) {
    a.Send(1 + i % 5, 1 + (i + 1) % 5, i);
    b.Send(1 + i % 5, 1 + (i + 1) % 5, i);
  }
  a.Drain();
  b.Drain();
  EXPECT_EQ(a.received, b.received);
}

TEST(DiskTest, SyncedWriteSurvivesACrash) {
  Disk disk("d");
  DiskWrite w;
  w.entries = {raft::Entry{1, 1, raft::EntryType::kNormal, "a"}};
  w.hard_state = raft::HardState{1, 2, 0};
  uint64_t gen = disk.BeginSync();
  ASSERT_TRUE(disk.CompleteSync(gen, w, false).ok());
  disk.Crash();
  EXPECT_EQ(disk.storage()->LastIndex(), 1u);
  EXPECT_EQ(disk.storage()->GetInitialState().hard_state.vote, 2u);
}

TEST(DiskTest, WriteUnsyncedAtCrashIsLost) {
  Disk disk("d");
  DiskWrite w;
  w.entries = {raft::Entry{1, 1, raft::EntryType::kNormal, "a"}};
  uint64_t gen = disk.BeginSync();
  disk.Crash();
  Status st = disk.CompleteSync(gen, w, false);
  EXPECT_TRUE(st.IsAborted());
  EXPECT_EQ(disk.storage()->LastIndex(), 0u);
  EXPECT_EQ(disk.stats().lost_writes, 1u);
}

TEST(DiskTest, FailedSyncAppliesNothing) {
  Disk disk("d");
  DiskWrite w;
  w.entries = {raft::Entry{1, 1, raft::EntryType::kNormal, "a"}};
  Status st = disk.CompleteSync(disk.BeginSync(), w, true);
  EXPECT_TRUE(st.IsIOError());
  EXPECT_EQ(disk.storage()->LastIndex(), 0u);
}

TEST(KvStateMachineTest, CommandRoundTripsThroughItsEncoding) {
  KvCommand cmd{check::OpKind::kCas, 7, 42, "key", "new", std::string("old")};
  auto decoded = DecodeCommand(EncodeCommand(cmd));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->kind, cmd.kind);
  EXPECT_EQ(decoded->client, 7u);
  EXPECT_EQ(decoded->request, 42u);
  EXPECT_EQ(decoded->key, "key");
  EXPECT_EQ(decoded->value, "new");
  EXPECT_EQ(decoded->expected, std::optional<std::string>("old"));
  EXPECT_TRUE(DecodeCommand("garbage").status().IsCorruption());
}

TEST(KvStateMachineTest, DuplicateOrStaleRequestTakesNoEffect) {
  KvStateMachine sm;
  KvCommand put{check::OpKind::kPut, 1, 2, "k", "a", std::nullopt};
  EXPECT_TRUE(sm.Apply(put).applied);
  KvCommand put2{check::OpKind::kPut, 1, 3, "k", "b", std::nullopt};
  EXPECT_TRUE(sm.Apply(put2).applied);
  EXPECT_FALSE(sm.Apply(put).applied);  // request 2 again, after 3
  EXPECT_EQ(sm.Read("k"), std::optional<std::string>("b"));
}

TEST(KvStateMachineTest, CasSwapsOnlyOnMatch) {
  KvStateMachine sm;
  EXPECT_TRUE(sm.Apply({check::OpKind::kCas, 1, 1, "k", "a", std::nullopt}).cas_ok);
  EXPECT_FALSE(sm.Apply({check::OpKind::kCas, 1, 2, "k", "b", std::nullopt}).cas_ok);
  EXPECT_TRUE(sm.Apply({check::OpKind::kCas, 1, 3, "k", "c", std::string("a")}).cas_ok);
  EXPECT_EQ(sm.Read("k"), std::optional<std::string>("c"));
}

TEST(KvStateMachineTest, SnapshotRestoresDataAndSessions) {
  KvStateMachine a;
  a.Apply({check::OpKind::kPut, 1, 5, "x", "1", std::nullopt});
  a.Apply({check::OpKind::kPut, 2, 9, "y", "2", std::nullopt});
  KvStateMachine b;
  ASSERT_TRUE(b.RestoreSnapshot(a.EncodeSnapshot()).ok());
  EXPECT_EQ(a.Fingerprint(), b.Fingerprint());
  EXPECT_FALSE(b.Apply({check::OpKind::kPut, 1, 5, "x", "dup", std::nullopt}).applied);
  EXPECT_TRUE(b.RestoreSnapshot("S\x05").IsCorruption());
}

TEST(FaultOptionsTest, EveryScenarioNameResolvesAndUnknownIsRejected) {
  for (const std::string& name : ScenarioNames()) EXPECT_TRUE(ScenarioFaults(name).ok()) << name;
  EXPECT_TRUE(ScenarioFaults("nope").status().IsInvalidArgument());
}

}  // namespace
}  // namespace dkv::sim

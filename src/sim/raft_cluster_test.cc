// Tests of the simulated Raft group: it works when nothing goes wrong, a seed
// replays byte for byte, every scenario passes a few seeds, and the checks
// catch bugs planted in the harness on purpose.
#include "sim/raft_cluster.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "sim/fault_options.h"
#include "sim/kv_state_machine.h"

namespace dkv::sim {
namespace {

ClusterOptions Options(const std::string& scenario, int nodes, int fault_steps) {
  ClusterOptions o;
  o.nodes = nodes;
  o.fault_steps = fault_steps;
  o.faults = ScenarioFaults(scenario).value();
  return o;
}

std::string PutCommand(uint64_t request) {
  KvCommand cmd;
  cmd.kind = check::OpKind::kPut;
  cmd.client = 99;
  cmd.request = request;
  cmd.key = "k";
  cmd.value = "v" + std::to_string(request);
  return EncodeCommand(cmd);
}

TEST(RaftClusterTest, CleanGroupElectsOneLeaderAndEveryNodeAppliesProposals) {
  RaftCluster cluster(7, Options("clean", 3, 10));
  std::map<NodeId, int> applied_data;
  cluster.on_apply = [&](NodeId id, const raft::Entry& e) {
    if (e.type == raft::EntryType::kNormal && !e.data.empty()) ++applied_data[id];
  };
  cluster.Start(/*clients=*/false);
  ASSERT_TRUE(cluster.RunFor(2'000'000)) << cluster.failure();
  const NodeId leader = cluster.Leader();
  ASSERT_NE(leader, raft::kNoNode);
  for (uint64_t r = 1; r <= 20; ++r) ASSERT_TRUE(cluster.ProposeAt(leader, PutCommand(r)).ok());
  ASSERT_TRUE(cluster.RunFor(1'000'000)) << cluster.failure();
  EXPECT_EQ(applied_data.size(), 3u);
  for (auto& [id, count] : applied_data) EXPECT_EQ(count, 20) << "node " << id;
}

TEST(RaftClusterTest, CrashedFollowerRecoversFromItsDiskAndCatchesUp) {
  RaftCluster cluster(11, Options("clean", 3, 10));
  std::map<NodeId, uint64_t> last_index;
  cluster.on_apply = [&](NodeId id, const raft::Entry& e) { last_index[id] = e.index; };
  cluster.Start(false);
  ASSERT_TRUE(cluster.RunFor(2'000'000));
  const NodeId leader = cluster.Leader();
  ASSERT_NE(leader, raft::kNoNode);
  const NodeId follower = leader == 1 ? 2 : 1;
  cluster.CrashNode(follower);
  EXPECT_FALSE(cluster.IsUp(follower));
  for (uint64_t r = 1; r <= 10; ++r) ASSERT_TRUE(cluster.ProposeAt(leader, PutCommand(r)).ok());
  ASSERT_TRUE(cluster.RunFor(500'000));
  cluster.RestartNode(follower);
  ASSERT_TRUE(cluster.RunFor(2'000'000)) << cluster.failure();
  EXPECT_EQ(last_index[follower], last_index[leader]);
}

TEST(RaftClusterTest, SameSeedReplaysByteForByte) {
  auto run = [](uint64_t seed) {
    RaftCluster cluster(seed, Options("mixed", 5, 40));
    RunReport r = cluster.Run();
    return std::make_pair(r.trace_hash, r.Summary());
  };
  const auto a = run(4242);
  const auto b = run(4242);
  EXPECT_EQ(a.first, b.first);
  EXPECT_EQ(a.second, b.second);
  EXPECT_NE(run(4243).first, a.first);
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, FewSeedsPassOnThreeAndFiveNodes) {
  for (int nodes : {3, 5}) {
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      RaftCluster cluster(seed * 1000 + static_cast<uint64_t>(nodes),
                          Options(GetParam(), nodes, 60));
      RunReport r = cluster.Run();
      EXPECT_TRUE(r.ok) << "replay: distkv-sim --seed=" << seed * 1000 + nodes
                        << " --scenario=" << GetParam() << " --nodes=" << nodes << " --steps=60\n"
                        << r.failure;
      EXPECT_GT(r.ops_acked, 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllScenarios, ScenarioTest, ::testing::ValuesIn(ScenarioNames()));

// Runs seeds with a planted bug until one fails; returns its failure text.
std::string FirstFailure(const std::string& scenario, InjectedBug bug, int seeds) {
  for (uint64_t seed = 1; seed <= static_cast<uint64_t>(seeds); ++seed) {
    ClusterOptions o = Options(scenario, 3, 60);
    o.bug = bug;
    RaftCluster cluster(seed, o);
    RunReport r = cluster.Run();
    if (!r.ok) return r.failure;
  }
  return "";
}

TEST(RaftClusterTest, PlantedStaleReadsAreCaughtByTheLinearizabilityCheck) {
  const std::string failure = FirstFailure("partition", InjectedBug::kStaleReads, 20);
  EXPECT_NE(failure.find("linearizability"), std::string::npos) << failure;
}

TEST(RaftClusterTest, PlantedEarlyAcknowledgementIsCaught) {
  const std::string failure = FirstFailure("crash", InjectedBug::kAckBeforeCommit, 20);
  EXPECT_FALSE(failure.empty());
}

// Sending before the fsync lets a node promise what a crash then takes back.
// The run must not pass: either a check fails or the core's own assertion
// (a commit index beyond the log: "was the log lost?") stops the process.
TEST(RaftClusterDeathTest, PlantedSendBeforeSyncIsDetected) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        for (uint64_t seed = 1; seed <= 30; ++seed) {
          ClusterOptions o = Options("crash", 3, 60);
          o.bug = InjectedBug::kSendBeforeSync;
          o.faults.fsync_us_min = 2000;
          o.faults.fsync_us_max = 20000;
          RaftCluster cluster(seed, o);
          RunReport r = cluster.Run();
          if (!r.ok) {
            fprintf(stderr, "FAILED: %s\n", r.failure.c_str());
            abort();
          }
        }
      },
      "assertion failed|FAILED");
}

}  // namespace
}  // namespace dkv::sim

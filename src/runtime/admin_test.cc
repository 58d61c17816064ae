// Unit tests of the admin pieces that need no cluster: the founding rules
// (when a node may found the initial placement) and the replica line that
// DKV.STATUS prints and peers parse.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "runtime/admin_commands.h"
#include "runtime/admin_founding.h"

namespace dkv::runtime {
namespace {

TEST(AdminFoundingTest, FirstStartOfANewClusterFounds) {
  FoundingFacts f;
  EXPECT_EQ(DecideStartMode(f, 1, "/d").value(), StartMode::kFound);
  f.has_raft_state = true;  // a first start cut short before the marker
  EXPECT_EQ(DecideStartMode(f, 1, "/d").value(), StartMode::kFound);
}

TEST(AdminFoundingTest, AMarkedDataDirOnlyRecovers) {
  FoundingFacts f;
  f.marker_exists = true;
  f.has_raft_state = true;
  f.cluster_existing = true;
  EXPECT_EQ(DecideStartMode(f, 1, "/d").value(), StartMode::kRecover);
  f.join = true;  // --join on a founded disk changes nothing
  EXPECT_EQ(DecideStartMode(f, 1, "/d").value(), StartMode::kRecover);
}

TEST(AdminFoundingTest, AnUnmarkedDataDirInAnExistingClusterIsRefusedWithTheFix) {
  FoundingFacts f;
  f.cluster_existing = true;
  Result<StartMode> m = DecideStartMode(f, 3, "/data/node-3/data");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().ToString().find("--join"), std::string::npos);
  EXPECT_NE(m.status().ToString().find("remove-replica"), std::string::npos);
  f.join = true;
  EXPECT_EQ(DecideStartMode(f, 3, "/d").value(), StartMode::kJoin);
}

TEST(AdminFoundingTest, MarkerIsWrittenAndFound) {
  char tmpl[] = "/tmp/dkv-admin-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  cluster::ClusterConfig config;
  EXPECT_FALSE(GatherFoundingFacts(config, dir, false).marker_exists);
  ASSERT_TRUE(WriteFoundedMarker(dir, "c", 1).ok());
  FoundingFacts f = GatherFoundingFacts(config, dir, true);
  EXPECT_TRUE(f.marker_exists);
  EXPECT_TRUE(f.join);
  EXPECT_FALSE(f.cluster_existing);
  std::filesystem::remove_all(dir);
}

TEST(ReplicaLineTest, RoundTripsAndRefusesDamage) {
  ReplicaView v;
  v.shard = 7;
  v.role = "leader";
  v.leader = 2;
  v.term = 5;
  v.commit = 100;
  v.applied = 99;
  v.first_index = 40;
  v.voters = {1, 2, 3};
  v.learners = {4};
  const std::string line = FormatReplicaLine(v);
  EXPECT_EQ(line,
            "shard=7 role=leader leader=2 term=5 commit=100 applied=99 first=40 voters=1,2,3 "
            "learners=4");
  Result<ReplicaView> back = ParseReplicaLine(line);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->shard, 7u);
  EXPECT_EQ(back->voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(back->learners, (std::vector<NodeId>{4}));
  EXPECT_EQ(back->first_index, 40u);
  EXPECT_TRUE(ParseReplicaLine(line + " extra=1").ok());  // a newer node's field
  EXPECT_FALSE(ParseReplicaLine("shard=7 role=leader").ok());
  EXPECT_FALSE(ParseReplicaLine("shard=x role=leader leader=2 term=5 commit=1 applied=1 voters=1 "
                                "learners=")
                   .ok());
  EXPECT_FALSE(ParseReplicaLine("shard=1 role=leader leader=2 term=5 commit=1 applied=1 "
                                "voters=1,,2 learners=")
                   .ok());
}

}  // namespace
}  // namespace dkv::runtime

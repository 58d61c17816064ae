// Scenario tests: each file under testdata/ tells one story in commands, each
// followed by the output it must produce (etcd's interaction tests in spirit).
//
// Format: lines starting with '#' are commentary. A line starting with "> " is a
// command; the lines after it, up to the next command, are its expected output.
// Run with DKV_REWRITE=1 to regenerate the expectations in place (then review the
// diff: commit only changes you can explain).
//
// Commands:
//   nodes N [prevote=off] [checkquorum=off] [lease=D]   build voters 1..N
//   campaign ID | propose ID DATA | transfer ID TO | read ID CTX
//   tick K (every node, then deliver) | tick-node ID K | deliver
//   isolate ID | heal | compact ID
//   add-learner ID | promote ID | remove ID   (proposed on the current leader)
//   status | state ID | reads ID
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "raft/raft_test_util.h"

namespace dkv::raft {
namespace {

using testing::Network;

std::string StatusLine(Network& net, NodeId id) {
  NodeStatus s = net.node(id).status();
  std::ostringstream out;
  out << id << ": " << RoleName(s.role) << " term " << s.hard_state.term << " lead " << s.leader_id
      << " commit " << s.hard_state.commit << " applied " << net.node(id).applied_index
      << " voters";
  for (NodeId v : s.conf_state.voters) out << " " << v;
  if (!s.conf_state.learners.empty()) {
    out << " learners";
    for (NodeId v : s.conf_state.learners) out << " " << v;
  }
  return out.str();
}

class Runner {
 public:
  // Runs one command and returns its output lines.
  std::vector<std::string> Run(const std::string& line) {
    std::istringstream in(line);
    std::string cmd;
    in >> cmd;
    std::vector<std::string> out;
    auto report = [&out](const Status& s) {
      if (!s.ok()) out.push_back("error: " + s.ToString());
    };
    auto leader = [this]() -> RawNode& {
      const NodeId l = net_->Leader();
      EXPECT_NE(l, kNoNode) << "no leader";
      return *net_->node(l).node;
    };
    if (cmd == "nodes") {
      int n = 0;
      in >> n;
      bool pre_vote = true, check_quorum = true;
      std::optional<int> lease;
      std::string opt;
      while (in >> opt) {
        if (opt == "prevote=off") pre_vote = false;
        if (opt == "checkquorum=off") check_quorum = false;
        if (opt.rfind("lease=", 0) == 0) lease = std::stoi(opt.substr(6));
      }
      net_ = std::make_unique<Network>(n, [=](Config* c) {
        c->pre_vote = pre_vote;
        c->check_quorum = check_quorum;
        c->clock_drift_bound_ticks = lease;
        c->max_snapshot_chunk_bytes = 32;
      });
      net_->Deliver();
    } else if (cmd == "campaign") {
      NodeId id;
      in >> id;
      report(net_->node(id).node->Campaign());
      net_->Deliver();
    } else if (cmd == "propose") {
      NodeId id;
      std::string data;
      in >> id >> data;
      report(net_->node(id).node->Propose(data));
      net_->Deliver();
    } else if (cmd == "transfer") {
      NodeId id, to;
      in >> id >> to;
      report(net_->node(id).node->TransferLeadership(to));
      net_->Deliver();
    } else if (cmd == "read") {
      NodeId id;
      std::string ctx;
      in >> id >> ctx;
      report(net_->node(id).node->ReadIndex(ctx));
      net_->Deliver();
    } else if (cmd == "tick") {
      int k;
      in >> k;
      net_->TickAll(k);
    } else if (cmd == "tick-node") {
      NodeId id;
      int k;
      in >> id >> k;
      for (int i = 0; i < k; i++) net_->Tick(id);
      net_->Deliver();
    } else if (cmd == "deliver") {
      net_->Deliver();
    } else if (cmd == "isolate") {
      NodeId id;
      in >> id;
      net_->Isolate(id);
    } else if (cmd == "heal") {
      net_->Heal();
    } else if (cmd == "compact") {
      NodeId id;
      in >> id;
      net_->node(id).SnapshotAndCompact();
      out.push_back("first index " + std::to_string(net_->node(id).storage.FirstIndex()));
    } else if (cmd == "add-learner" || cmd == "promote" || cmd == "remove") {
      NodeId id;
      in >> id;
      ConfChange cc{ConfChangeType::kAddLearner, id, {}};
      if (cmd == "add-learner") {
        if (!net_->ids().empty() && net_->ids().back() < id) net_->AddNode(id, {});
      } else {
        cc.type = cmd == "promote" ? ConfChangeType::kAddVoter : ConfChangeType::kRemoveNode;
      }
      report(leader().ProposeConfChange(cc));
      net_->Deliver();
    } else if (cmd == "status") {
      for (NodeId id : net_->ids()) out.push_back(StatusLine(*net_, id));
    } else if (cmd == "state") {
      NodeId id;
      in >> id;
      std::string joined;
      for (const std::string& s : net_->node(id).state) joined += (joined.empty() ? "" : " ") + s;
      if (joined.empty()) joined = "(empty)";
      if (net_->node(id).installed_snapshot) joined += " (installed a snapshot)";
      out.push_back(joined);
    } else if (cmd == "reads") {
      NodeId id;
      in >> id;
      for (const ReadState& r : net_->node(id).reads) {
        out.push_back(r.context + " at " + std::to_string(r.index));
      }
      net_->node(id).reads.clear();
    } else {
      ADD_FAILURE() << "unknown command: " << line;
    }
    return out;
  }

 private:
  std::unique_ptr<Network> net_;
};

void RunScenario(const std::string& name) {
  const std::string path = std::string(DKV_RAFT_TESTDATA) + "/" + name;
  std::ifstream file(path);
  ASSERT_TRUE(file.good()) << path;
  std::vector<std::string> lines;
  for (std::string l; std::getline(file, l);) lines.push_back(l);
  const bool rewrite = std::getenv("DKV_REWRITE") != nullptr;
  std::vector<std::string> rewritten;
  Runner runner;
  size_t i = 0;
  while (i < lines.size()) {
    const std::string& l = lines[i];
    if (l.rfind("> ", 0) != 0) {
      rewritten.push_back(l);
      i++;
      continue;
    }
    rewritten.push_back(l);
    std::vector<std::string> got = runner.Run(l.substr(2));
    std::vector<std::string> want;
    size_t j = i + 1;
    while (j < lines.size() && lines[j].rfind("> ", 0) != 0 && lines[j].rfind("#", 0) != 0 &&
           !lines[j].empty()) {
      want.push_back(lines[j]);
      j++;
    }
    if (!rewrite) {
      EXPECT_EQ(got, want) << path << ":" << i + 1 << ": " << l;
    }
    for (const std::string& g : got) rewritten.push_back(g);
    i = j;
  }
  if (rewrite) {
    std::ofstream outf(path, std::ios::trunc);
    for (const std::string& l : rewritten) outf << l << "\n";
  }
}

TEST(RaftScenarioTest, PreVoteAndCheckQuorum) { RunScenario("prevote_checkquorum.txt"); }
TEST(RaftScenarioTest, LeadershipTransfer) { RunScenario("transfer.txt"); }
TEST(RaftScenarioTest, MembershipChanges) { RunScenario("membership.txt"); }
TEST(RaftScenarioTest, SnapshotCatchUp) { RunScenario("snapshot.txt"); }
TEST(RaftScenarioTest, ReadIndexAndLease) { RunScenario("reads.txt"); }

}  // namespace
}  // namespace dkv::raft

// Partitions made with network namespaces (issue #5): each node runs in its own
// namespace on its own address, joined to the test's namespace by a veth pair on
// one bridge, and a silent partition is an nftables table in the victim's
// namespace that drops every packet to and from the other nodes (the test's
// address stays reachable, so clients still ask the minority). This needs root,
// `ip netns` and `nft`; when any of them is missing the test is skipped with the
// reason. Namespaces, links and the bridge are removed on exit, also on failure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cluster_faults/partition_scenario.h"

namespace dkv::faults {
namespace {

constexpr uint32_t kNodes = 3;
constexpr uint32_t kShards = 6;

// Runs a shell command quietly; true on exit status 0.
bool Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0; }

// A bridge in the test's namespace and one namespace per node, each with a
// veth pair to the bridge. Names and the /24 subnet derive from the pid, so
// parallel runs do not collide. The destructor removes everything it made.
class NetnsNetwork {
 public:
  NetnsNetwork() : tag_(std::to_string(::getpid() % 10'000'000)) {
    subnet_ = "10.123." + std::to_string(::getpid() % 250) + ".";
  }
  ~NetnsNetwork() {
    for (uint64_t id = 1; id <= created_; id++) {
      Sh("ip link del " + HostLink(id));  // both ends of the pair, at once
      Sh("ip netns del " + Ns(id));
    }
    if (bridge_) Sh("ip link del " + Bridge());
  }
  NetnsNetwork(const NetnsNetwork&) = delete;
  NetnsNetwork& operator=(const NetnsNetwork&) = delete;

  // "" on success, else why the machine cannot do it.
  std::string Setup(uint32_t nodes) {
    if (::geteuid() != 0) return "not root";
    if (!Sh("command -v nft")) return "nft not installed (apt-get install nftables)";
    if (!Sh("ip link add " + Bridge() + " type bridge")) return "cannot create a bridge";
    bridge_ = true;
    if (!Sh("ip addr add " + subnet_ + "254/24 dev " + Bridge()) ||
        !Sh("ip link set " + Bridge() + " up")) {
      return "cannot configure the bridge";
    }
    for (uint64_t id = 1; id <= nodes; id++) {
      if (!Sh("ip netns add " + Ns(id))) return "ip netns add failed";
      created_ = id;
      const std::string host = HostLink(id);
      const std::string peer = "dkvp" + tag_ + "n" + std::to_string(id);
      const std::string in_ns = "ip netns exec " + Ns(id) + " ";
      if (!Sh("ip link add " + host + " type veth peer name " + peer) ||
          !Sh("ip link set " + peer + " netns " + Ns(id)) ||
          !Sh("ip link set " + host + " master " + Bridge() + " up") ||
          !Sh(in_ns + "ip addr add " + Address(id) + "/24 dev " + peer) ||
          !Sh(in_ns + "ip link set " + peer + " up") || !Sh(in_ns + "ip link set lo up")) {
        return "cannot wire namespace " + Ns(id);
      }
    }
    nodes_ = nodes;
    return "";
  }

  std::string Address(uint64_t id) const { return subnet_ + std::to_string(id); }
  std::string NsPath(uint64_t id) const { return "/var/run/netns/" + Ns(id); }

  // Drops, inside `id`'s namespace, every packet to or from the other nodes.
  bool Isolate(uint64_t id) {
    std::string others;
    for (uint64_t o = 1; o <= nodes_; o++) {
      if (o == id) continue;
      others += (others.empty() ? "" : ", ") + Address(o);
    }
    const std::string nft = "ip netns exec " + Ns(id) + " nft ";
    return Sh(nft + "add table inet dkvpart") &&
           Sh(nft + "'add chain inet dkvpart in { type filter hook input priority 0; }'") &&
           Sh(nft + "'add chain inet dkvpart out { type filter hook output priority 0; }'") &&
           Sh(nft + "'add rule inet dkvpart in ip saddr { " + others + " } drop'") &&
           Sh(nft + "'add rule inet dkvpart out ip daddr { " + others + " } drop'");
  }
  bool Heal(uint64_t id) {
    return Sh("ip netns exec " + Ns(id) + " nft delete table inet dkvpart");
  }

 private:
  std::string Ns(uint64_t id) const { return "dkvf" + tag_ + "-" + std::to_string(id); }
  std::string Bridge() const { return "dkvb" + tag_; }
  // The bridge end of node `id`'s veth pair (at most 15 characters).
  std::string HostLink(uint64_t id) const { return "dkvh" + tag_ + "n" + std::to_string(id); }

  std::string tag_;
  std::string subnet_;
  bool bridge_ = false;
  uint64_t created_ = 0;
  uint32_t nodes_ = 0;
};

TEST(NetnsPartitionTest, IsolatedLeaderAnswersErrorsMajorityServesAndAllConvergeAfterHeal) {
  NetnsNetwork net;  // declared first: removed after the nodes are killed
  const std::string why = net.Setup(kNodes);
  if (!why.empty()) GTEST_SKIP() << "network namespaces not usable here: " << why;

  HarnessOptions options;
  options.edit_config = [&](cluster::ClusterConfig& c) {
    for (auto& n : c.nodes) {
      n.client_addr = net.Address(n.id) + ":7379";
      n.peer_addr = net.Address(n.id) + ":7380";
    }
  };
  options.netns_path = [&](uint64_t id) { return net.NsPath(id); };
  ClusterHarness cluster(kNodes, kShards, options);

  uint64_t isolated = 0;
  const uint64_t victim = IsolatedLeaderScenario(
      cluster,
      [&](uint64_t id) {
        isolated = id;
        ASSERT_TRUE(net.Isolate(id)) << "nft rules in the namespace of node " << id;
      },
      [&] { ASSERT_TRUE(net.Heal(isolated)); });
  EXPECT_NE(victim, 0u);
}

}  // namespace
}  // namespace dkv::faults

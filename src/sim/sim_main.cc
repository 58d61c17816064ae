// distkv-sim: runs simulated Raft groups under faults, one seed at a time.
//
//   distkv-sim --seed=8131 --scenario=partition --nodes=5
//   distkv-sim --seed=1 --seeds=1000 --scenario=all
//
// Each seed is a complete, deterministic run (see sim/raft_cluster.h). The
// summary line is "N passed, M failed"; when a seed fails, the LAST line
// printed is the command that replays it.
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sim/fault_options.h"
#include "sim/raft_cluster.h"

namespace {

// The replay command of the seed being run, for the abort handler: a failed
// DKV_ASSERT inside the core aborts the process, and the last line printed
// must still be the command that replays it.
char g_current_repro[512];

void OnAbort(int) {
  static const char kPrefix[] = "seed aborted (assertion above); replay:\n";
  ssize_t ignored = write(STDOUT_FILENO, kPrefix, sizeof(kPrefix) - 1);
  ignored =
      write(STDOUT_FILENO, g_current_repro, strnlen(g_current_repro, sizeof(g_current_repro)));
  ignored = write(STDOUT_FILENO, "\n", 1);
  (void)ignored;
  signal(SIGABRT, SIG_DFL);
  raise(SIGABRT);
}

std::string ReproCommand(uint64_t seed, const std::string& scenario, int nodes, int steps,
                         int default_steps) {
  std::string cmd = "distkv-sim --seed=" + std::to_string(seed) + " --scenario=" + scenario +
                    " --nodes=" + std::to_string(nodes);
  if (steps != default_steps) cmd += " --steps=" + std::to_string(steps);
  return cmd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"distkv-sim: deterministic simulation of a DistKV Raft group"};
  uint64_t seed = 1;
  uint64_t seeds = 1;
  std::string scenario = "mixed";
  int nodes = 3;
  const int default_steps = dkv::sim::ClusterOptions{}.fault_steps;
  int steps = default_steps;
  bool quiet = false;
  bool verbose = false;
  bool trace = false;
  std::string all_names;
  for (const std::string& name : dkv::sim::ScenarioNames()) all_names += " " + name;
  app.add_option("--seed", seed, "first seed");
  app.add_option("--seeds", seeds, "how many consecutive seeds to run")->check(CLI::PositiveNumber);
  app.add_option("--scenario", scenario,
                 "fault scenario:" + all_names + ", or 'all' (one per seed, in turn)");
  app.add_option("--nodes", nodes, "initial voters")->check(CLI::Range(1, 7));
  app.add_option("--steps", steps, "driver steps of faults (100 ms of virtual time each)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet", quiet, "print only failures and the summary");
  app.add_flag("--verbose", verbose, "print a summary line for every seed");
  app.add_flag("--trace", trace, "on failure, print the last trace lines");
  std::string bug = "none";
  app.add_option("--inject-bug", bug,
                 "plant a harness bug to see the checks catch it: none, stale-reads, "
                 "ack-before-commit, send-before-sync")
      ->check(CLI::IsMember({"none", "stale-reads", "ack-before-commit", "send-before-sync"}));
  bool explicit_applied = false;
  app.add_flag("--explicit-applied", explicit_applied,
               "restart nodes with Config::applied = snapshot index instead of 0");
  CLI11_PARSE(app, argc, argv);

  const std::vector<std::string> names = dkv::sim::ScenarioNames();
  if (scenario != "all" && !dkv::sim::ScenarioFaults(scenario).ok()) {
    std::fprintf(stderr, "unknown scenario '%s'; one of:%s all\n", scenario.c_str(),
                 all_names.c_str());
    return 2;
  }

  std::fflush(stdout);
  signal(SIGABRT, OnAbort);
  uint64_t passed = 0, failed = 0, unknown = 0;
  std::string first_repro;
  for (uint64_t s = seed; s < seed + seeds; ++s) {
    const std::string name = scenario == "all" ? names[s % names.size()] : scenario;
    dkv::sim::ClusterOptions options;
    options.nodes = nodes;
    options.fault_steps = steps;
    options.faults = dkv::sim::ScenarioFaults(name).value();
    options.explicit_applied_on_restart = explicit_applied;
    if (bug == "stale-reads") options.bug = dkv::sim::InjectedBug::kStaleReads;
    if (bug == "ack-before-commit") options.bug = dkv::sim::InjectedBug::kAckBeforeCommit;
    if (bug == "send-before-sync") options.bug = dkv::sim::InjectedBug::kSendBeforeSync;
    {
      std::string repro = ReproCommand(s, name, nodes, steps, default_steps);
      if (explicit_applied) repro += " --explicit-applied";
      if (bug != "none") repro += " --inject-bug=" + bug;
      std::snprintf(g_current_repro, sizeof(g_current_repro), "%s", repro.c_str());
      std::fflush(stdout);
    }
    dkv::sim::RaftCluster cluster(s, options);
    std::vector<std::string> lines;
    dkv::sim::RunReport report = cluster.Run();
    if (report.verdict == dkv::check::Verdict::kUnknown) ++unknown;
    if (report.ok) {
      ++passed;
      if (verbose)
        std::printf("seed %llu %s: %s\n", static_cast<unsigned long long>(s), name.c_str(),
                    report.Summary().c_str());
      continue;
    }
    ++failed;
    std::string repro = ReproCommand(s, name, nodes, steps, default_steps);
    if (explicit_applied) repro += " --explicit-applied";
    if (bug != "none") repro += " --inject-bug=" + bug;
    if (first_repro.empty()) first_repro = repro;
    std::printf("seed %llu %s FAILED: %s\n  %s\n", static_cast<unsigned long long>(s), name.c_str(),
                report.failure.c_str(), report.Summary().c_str());
    if (trace) {
      for (const std::string& line : cluster.loop().TraceTail())
        std::printf("    %s\n", line.c_str());
    }
    std::printf("  replay: %s\n", repro.c_str());
  }
  if (unknown > 0 && !quiet) {
    std::printf("%llu histories were too large to check fully (verdict Unknown)\n",
                static_cast<unsigned long long>(unknown));
  }
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>(passed),
              static_cast<unsigned long long>(failed));
  if (failed > 0) {
    std::printf("%s\n", first_repro.c_str());
    return 1;
  }
  return 0;
}

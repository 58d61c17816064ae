// FaultOptions: every knob of the simulator's fault injection, in one place.
//
// A scenario (see ScenarioFaults) is one FaultOptions value; a run draws every
// fault from the seeded Rng according to these probabilities, so the same seed
// and scenario replay the same faults. Probabilities are per message (link
// faults) or per driver step (everything else; a step is `step_us` of virtual
// time). Plain values; owned by whoever configures a run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace dkv::sim {

// How one directed link behaves. Latency is uniform in [min, max]; with
// probability `tail_probability` a message instead takes up to
// `latency_us_tail` (a slow path: a GC pause, a retransmit). Reordering falls
// out of random latency; `reorder_probability` adds an extra delay of up to
// `reorder_delay_us_max` to make overtaking common.
struct LinkOptions {
  int64_t latency_us_min = 200;
  int64_t latency_us_max = 2000;
  double tail_probability = 0.0;
  int64_t latency_us_tail = 50'000;
  double loss_probability = 0.0;       // the message vanishes
  double duplicate_probability = 0.0;  // the message is delivered twice
  double reorder_probability = 0.0;    // extra delay so later messages overtake it
  int64_t reorder_delay_us_max = 20'000;
};

struct FaultOptions {
  // Every link between two nodes (clients reach nodes over a clean link).
  LinkOptions link;

  // Per driver step: start a partition when none is active. The kind is drawn
  // uniformly from those enabled below. A partition lasts a uniform number of
  // steps in [1, partition_steps_max] and then heals.
  double partition_probability = 0.0;
  bool partition_symmetric = true;   // two random halves that cannot talk
  bool partition_asymmetric = true;  // A hears B but B does not hear A
  bool partition_isolate = true;     // one node (often the leader) cut off
  bool partition_bridge = true;      // two halves joined only through one node
  int partition_steps_max = 20;

  // Per driver step: crash a random running node (unsynced disk writes are
  // lost); it restarts after a uniform [1, crash_steps_max] steps. At most a
  // minority is down at once, so the group can keep making progress.
  double crash_probability = 0.0;
  int crash_steps_max = 10;
  // Per driver step: crash the current leader specifically.
  double crash_leader_probability = 0.0;

  // Disk: fsync takes a uniform [min, max]; with this probability an fsync
  // fails, and the node treats that as fatal (crashes), as a real node must.
  int64_t fsync_us_min = 50;
  int64_t fsync_us_max = 1000;
  double fsync_fail_probability = 0.0;

  // Per driver step: propose a membership change (remove a voter, or add a
  // fresh node with a new id) when the voter count allows.
  double membership_probability = 0.0;
  // Per driver step: ask the leader to transfer leadership to a random voter.
  double transfer_probability = 0.0;
  // Snapshot + compact the log when this many entries were applied since the
  // last snapshot (0 = never). Small values force snapshot installs.
  uint64_t snapshot_every_entries = 0;
  // Per node: wall-clock skew up to this many microseconds either way and
  // oscillator drift up to this many ppm either way.
  int64_t clock_skew_us_max = 0;
  double clock_drift_ppm_max = 0.0;

  // Not a fault but a mode some scenarios turn on: leaders answer ReadIndex
  // from their lease (Config::clock_drift_bound_ticks = this, when >= 0)
  // instead of a heartbeat round. Drift above makes the lease's margin matter.
  int lease_drift_bound_ticks = -1;
  // Modes too: Raft's pre-vote and check-quorum (both on by default).
  bool pre_vote = true;
  bool check_quorum = true;
  // Let crashes take down a majority (the group stalls until the healing
  // phase restarts everyone; safety must hold throughout).
  bool crash_majority = false;
};

// The named scenarios, for the CLI and tests: "clean", "lossy", "partition",
// "crash", "disk", "membership", "transfer", "snapshot", "lease", "mixed",
// "classic" (no pre-vote, no check-quorum), "chaos" (everything, hard).
std::vector<std::string> ScenarioNames();
// The faults of one scenario; InvalidArgument for an unknown name.
Result<FaultOptions> ScenarioFaults(const std::string& name);

}  // namespace dkv::sim

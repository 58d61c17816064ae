#include "sim/fault_options.h"

namespace dkv::sim {

std::vector<std::string> ScenarioNames() {
  return {"clean",    "lossy",    "partition", "crash", "disk",    "membership",
          "transfer", "snapshot", "lease",     "mixed", "classic", "chaos"};
}

namespace {

void MakeLossy(FaultOptions* f) {
  f->link.loss_probability = 0.05;
  f->link.duplicate_probability = 0.03;
  f->link.reorder_probability = 0.05;
  f->link.tail_probability = 0.01;
}

}  // namespace

Result<FaultOptions> ScenarioFaults(const std::string& name) {
  FaultOptions f;
  if (name == "clean") return f;
  if (name == "lossy") {
    MakeLossy(&f);
    return f;
  }
  if (name == "partition") {
    f.partition_probability = 0.15;
    f.link.reorder_probability = 0.02;
    return f;
  }
  if (name == "crash") {
    f.crash_probability = 0.08;
    f.crash_leader_probability = 0.04;
    return f;
  }
  if (name == "disk") {
    f.fsync_us_min = 100;
    f.fsync_us_max = 5000;
    f.fsync_fail_probability = 0.003;
    f.crash_probability = 0.03;
    return f;
  }
  if (name == "membership") {
    f.membership_probability = 0.12;
    f.crash_probability = 0.02;
    return f;
  }
  if (name == "transfer") {
    f.transfer_probability = 0.15;
    f.link.reorder_probability = 0.02;
    return f;
  }
  if (name == "snapshot") {
    f.snapshot_every_entries = 8;
    f.crash_probability = 0.05;
    f.partition_probability = 0.05;
    return f;
  }
  if (name == "lease") {
    f.lease_drift_bound_ticks = 2;
    f.partition_probability = 0.1;
    f.crash_leader_probability = 0.03;
    f.clock_drift_ppm_max = 1000;
    f.link.tail_probability = 0.01;
    return f;
  }
  if (name == "mixed") {
    MakeLossy(&f);
    f.link.loss_probability = 0.02;
    f.partition_probability = 0.06;
    f.crash_probability = 0.04;
    f.crash_leader_probability = 0.02;
    f.fsync_fail_probability = 0.001;
    f.membership_probability = 0.04;
    f.transfer_probability = 0.04;
    f.snapshot_every_entries = 16;
    f.clock_skew_us_max = 50'000;
    f.clock_drift_ppm_max = 200;
    return f;
  }
  if (name == "classic") {
    f.pre_vote = false;
    f.check_quorum = false;
    f.partition_probability = 0.12;
    f.crash_probability = 0.04;
    f.transfer_probability = 0.03;
    f.link.reorder_probability = 0.03;
    return f;
  }
  if (name == "chaos") {
    MakeLossy(&f);
    f.link.loss_probability = 0.08;
    f.link.duplicate_probability = 0.05;
    f.link.reorder_probability = 0.1;
    f.link.tail_probability = 0.03;
    f.partition_probability = 0.2;
    f.partition_steps_max = 8;
    f.crash_probability = 0.1;
    f.crash_leader_probability = 0.05;
    f.crash_steps_max = 6;
    f.crash_majority = true;
    f.fsync_us_min = 100;
    f.fsync_us_max = 8000;
    f.fsync_fail_probability = 0.002;
    f.membership_probability = 0.08;
    f.transfer_probability = 0.08;
    f.snapshot_every_entries = 5;
    f.clock_drift_ppm_max = 500;
    return f;
  }
  return Status::InvalidArgument("scenario", "unknown scenario '" + name + "'");
}

}  // namespace dkv::sim

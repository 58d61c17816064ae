// SimClock: a node's view of time inside the simulator.
//
// Implements dkv::Clock over the EventLoop's virtual time with a per-node skew
// (wall clock offset, may be changed to model an NTP step) and a drift (the
// node's oscillator runs fast or slow by `drift_ppm` parts per million, which
// also stretches its Raft tick interval). One per simulated node, owned by the
// cluster; the loop must outlive it. Not thread-safe (the simulator is one
// thread), despite Clock's general contract.
#pragma once

#include <cstdint>

#include "common/assert.h"
#include "common/clock.h"
#include "sim/event_loop.h"

namespace dkv::sim {

class SimClock final : public dkv::Clock {
 public:
  // The virtual epoch: 2026-01-01T00:00:00Z, so wall times look plausible.
  static constexpr int64_t kEpochMicros = 1767225600LL * 1000000;
  // Real quartz drifts by tens of ppm; 1000 ppm is already a broken clock.
  static constexpr double kMaxDriftPpm = 1000.0;

  SimClock(const EventLoop* loop, int64_t skew_us, double drift_ppm)
      : loop_(loop), skew_us_(skew_us), drift_ppm_(drift_ppm) {
    DKV_ASSERT(drift_ppm > -kMaxDriftPpm && drift_ppm < kMaxDriftPpm);
  }

  // Wall time: epoch + skew + the node's (drifting) view of elapsed time.
  int64_t NowMicros() override { return kEpochMicros + skew_us_ + MonotonicMicros(); }
  // Elapsed virtual time as this node's oscillator measures it. Never goes back.
  int64_t MonotonicMicros() override {
    const int64_t t = loop_->now_us();
    return t + static_cast<int64_t>(static_cast<double>(t) * drift_ppm_ / 1e6);
  }

  // How long, in virtual time, this node's clock takes to measure `local_us`.
  int64_t ToVirtualDuration(int64_t local_us) const {
    return static_cast<int64_t>(static_cast<double>(local_us) / (1.0 + drift_ppm_ / 1e6));
  }

  void set_skew_us(int64_t skew_us) { skew_us_ = skew_us; }
  int64_t skew_us() const { return skew_us_; }
  double drift_ppm() const { return drift_ppm_; }

 private:
  const EventLoop* loop_;
  int64_t skew_us_;
  double drift_ppm_;
};

}  // namespace dkv::sim

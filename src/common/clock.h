// Clock: how protocol cores and the real runtime learn the time.
//
// Cores never call the OS for time; they take a Clock& (or count ticks). The
// real runtime passes SystemClock; the simulator passes its virtual clock.
// Implementations must be safe to call from any thread.
#pragma once

#include <cstdint>

namespace dkv {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in microseconds since the Unix epoch (may jump).
  virtual int64_t NowMicros() = 0;
  // A monotonic reading in microseconds (never goes back; epoch unspecified).
  virtual int64_t MonotonicMicros() = 0;
};

// The operating system's clocks. Shared by everyone through Default().
class SystemClock final : public Clock {
 public:
  int64_t NowMicros() override;
  int64_t MonotonicMicros() override;
  static SystemClock* Default();
};

}  // namespace dkv

// EventLoop: the simulator's single thread of virtual time.
//
// Events are callbacks scheduled at a virtual time in microseconds. They run in
// time order; events at the same time run in the order they were scheduled (a
// sequence number breaks ties), so a run is a pure function of its seed. The
// loop also folds a trace of what happened into a running hash, the fingerprint
// the determinism test compares, and keeps the last lines for failure reports.
// Owned by the simulation (RaftCluster); not thread-safe (the simulator is one
// thread by design).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace dkv::sim {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  using EventId = uint64_t;

  // Trace lines kept for a failure report; older ones are only in the hash.
  static constexpr size_t kTraceTailLines = 200;

  EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  int64_t now_us() const { return now_us_; }

  // Runs `cb` at now + delay_us. REQUIRES: delay_us >= 0.
  EventId Schedule(int64_t delay_us, Callback cb);
  // Runs `cb` at time_us. REQUIRES: time_us >= now_us().
  EventId ScheduleAt(int64_t time_us, Callback cb);
  // Stops a scheduled event from running. False if it already ran or is unknown.
  bool Cancel(EventId id);

  // Runs the next event, advancing virtual time to it. False if none is left.
  bool RunOne();
  // Runs every event scheduled at or before `time_us`, then sets the time to
  // `time_us`. Stops early (returning false) if `stop` becomes true after an event.
  bool RunUntil(int64_t time_us, const std::function<bool()>& stop = nullptr);

  size_t pending() const { return pending_; }
  uint64_t events_run() const { return events_run_; }

  // Folds one line describing something that happened into the trace hash.
  void Trace(std::string_view line);
  uint64_t trace_hash() const { return trace_hash_; }
  // The last kTraceTailLines lines, oldest first, each prefixed by its time.
  std::vector<std::string> TraceTail() const;
  // When set, every trace line is also appended to this vector (debugging).
  void set_trace_sink(std::vector<std::string>* sink) { trace_sink_ = sink; }

 private:
  // The heap holds small PODs; callbacks stay put in `slots_` (reused through
  // a free list), so sifting never moves a std::function.
  struct Event {
    int64_t time_us;
    uint64_t seq;
    uint32_t slot;
  };
  struct Slot {
    Callback cb;
    uint64_t seq = 0;  // the event occupying the slot; 0 = free
  };
  // Min-heap order: earliest time first, then lowest sequence number.
  // A function object (not a function pointer) so the heap operations inline it.
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      if (a.time_us != b.time_us) return a.time_us > b.time_us;
      return a.seq > b.seq;
    }
  };
  static EventId MakeId(uint32_t slot, uint64_t seq) {
    return (static_cast<uint64_t>(slot) << 40) | (seq & ((uint64_t{1} << 40) - 1));
  }
  // Pops the earliest live event into *e (cancelled ones are discarded).
  bool PopLive(Event* e);

  int64_t now_us_ = 0;
  uint64_t next_seq_ = 1;
  uint64_t events_run_ = 0;
  size_t pending_ = 0;
  std::vector<Event> heap_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  uint64_t trace_hash_ = 0;
  std::vector<std::string> trace_ring_;  // kTraceTailLines, reused in place
  std::vector<int64_t> trace_times_;
  size_t trace_next_ = 0;
  uint64_t trace_lines_ = 0;
  std::vector<std::string>* trace_sink_ = nullptr;
};

}  // namespace dkv::sim

#include "sim/event_loop.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "common/hash.h"

namespace dkv::sim {

EventLoop::EventId EventLoop::Schedule(int64_t delay_us, Callback cb) {
  DKV_ASSERT(delay_us >= 0);
  return ScheduleAt(now_us_ + delay_us, std::move(cb));
}

EventLoop::EventId EventLoop::ScheduleAt(int64_t time_us, Callback cb) {
  DKV_ASSERT(time_us >= now_us_);
  DKV_ASSERT(cb != nullptr);
  const uint64_t seq = next_seq_++;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slots_[slot].cb = std::move(cb);
  slots_[slot].seq = seq;
  heap_.push_back(Event{time_us, seq, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  ++pending_;
  return MakeId(slot, seq);
}

bool EventLoop::Cancel(EventId id) {
  const uint64_t slot = id >> 40;
  if (slot >= slots_.size()) return false;
  Slot& s = slots_[slot];
  if (s.seq == 0 || MakeId(static_cast<uint32_t>(slot), s.seq) != id || s.cb == nullptr) {
    return false;
  }
  s.cb = nullptr;  // the heap entry stays and is discarded when it surfaces
  --pending_;
  return true;
}

bool EventLoop::PopLive(Event* e) {
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    *e = heap_.back();
    heap_.pop_back();
    Slot& s = slots_[e->slot];
    DKV_ASSERT(s.seq == e->seq);
    if (s.cb != nullptr) return true;
    s.seq = 0;  // cancelled: free the slot
    free_slots_.push_back(e->slot);
  }
  return false;
}

bool EventLoop::RunOne() {
  Event e;
  if (!PopLive(&e)) return false;
  DKV_ASSERT(e.time_us >= now_us_);
  now_us_ = e.time_us;
  Callback cb = std::move(slots_[e.slot].cb);
  slots_[e.slot].cb = nullptr;
  slots_[e.slot].seq = 0;
  free_slots_.push_back(e.slot);
  --pending_;
  ++events_run_;
  cb();
  return true;
}

bool EventLoop::RunUntil(int64_t time_us, const std::function<bool()>& stop) {
  DKV_ASSERT(time_us >= now_us_);
  while (!heap_.empty()) {
    const Event& top = heap_.front();
    if (slots_[top.slot].cb == nullptr) {  // cancelled: discard it
      Event dead;
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      dead = heap_.back();
      heap_.pop_back();
      slots_[dead.slot].seq = 0;
      free_slots_.push_back(dead.slot);
      continue;
    }
    if (top.time_us > time_us) break;
    RunOne();
    if (stop && stop()) return false;
  }
  now_us_ = time_us;
  return true;
}

void EventLoop::Trace(std::string_view line) {
  trace_hash_ = Hash64(line, trace_hash_ ^ static_cast<uint64_t>(now_us_));
  if (trace_ring_.empty()) {
    trace_ring_.resize(kTraceTailLines);
    trace_times_.resize(kTraceTailLines);
  }
  trace_ring_[trace_next_].assign(line.data(), line.size());  // reuses capacity
  trace_times_[trace_next_] = now_us_;
  trace_next_ = (trace_next_ + 1) % kTraceTailLines;
  ++trace_lines_;
  if (trace_sink_ != nullptr)
    trace_sink_->push_back(std::to_string(now_us_) + " " + std::string(line));
}

std::vector<std::string> EventLoop::TraceTail() const {
  std::vector<std::string> out;
  const size_t n = static_cast<size_t>(std::min<uint64_t>(trace_lines_, kTraceTailLines));
  const size_t first = (trace_next_ + kTraceTailLines - n) % kTraceTailLines;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = (first + k) % kTraceTailLines;
    out.push_back(std::to_string(trace_times_[i]) + " " + trace_ring_[i]);
  }
  return out;
}

}  // namespace dkv::sim

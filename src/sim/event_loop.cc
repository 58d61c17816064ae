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
  heap_.push_back(Event{time_us, seq, std::move(cb)});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  return seq;
}

bool EventLoop::Cancel(EventId id) {
  if (id == 0 || id >= next_seq_) return false;
  // Only ids still in the heap may be marked; a linear scan is fine for the
  // rare cancellations the simulator does (client timeouts that were beaten).
  for (const Event& e : heap_) {
    if (e.seq == id) return cancelled_.insert(id).second;
  }
  return false;
}

bool EventLoop::RunOne() {
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    Event e = std::move(heap_.back());
    heap_.pop_back();
    if (!cancelled_.empty() && cancelled_.erase(e.seq) > 0) continue;
    DKV_ASSERT(e.time_us >= now_us_);
    now_us_ = e.time_us;
    ++events_run_;
    e.cb();
    return true;
  }
  return false;
}

bool EventLoop::RunUntil(int64_t time_us, const std::function<bool()>& stop) {
  DKV_ASSERT(time_us >= now_us_);
  while (!heap_.empty()) {
    // Skip cancelled events at the top so the peek below sees a live one.
    if (!cancelled_.empty() && cancelled_.count(heap_.front().seq) > 0) {
      std::pop_heap(heap_.begin(), heap_.end(), Later);
      cancelled_.erase(heap_.back().seq);
      heap_.pop_back();
      continue;
    }
    if (heap_.front().time_us > time_us) break;
    RunOne();
    if (stop && stop()) return false;
  }
  now_us_ = time_us;
  return true;
}

void EventLoop::Trace(std::string_view line) {
  trace_hash_ = Hash64(line, trace_hash_ ^ static_cast<uint64_t>(now_us_));
  if (trace_tail_.size() == kTraceTailLines) trace_tail_.pop_front();
  trace_tail_.emplace_back(std::to_string(now_us_) + " " + std::string(line));
  if (trace_sink_ != nullptr) trace_sink_->push_back(trace_tail_.back());
}

}  // namespace dkv::sim

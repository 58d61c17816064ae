#include "transport/fault_transport.h"

#include <utility>

#include "common/assert.h"
#include "common/random.h"
#include "common/thread_annotations.h"

namespace dkv::transport {

// Shared with the timers of delayed batches, which may fire after the
// FaultTransport is gone (then `inner` is null and they drop their batch).
struct FaultTransport::State {
  explicit State(asio::io_context* io, uint64_t seed) : core_io(io), rng(seed) {}
  asio::io_context* const core_io;
  mutable Mutex mu;
  node::Transport* inner GUARDED_BY(mu) = nullptr;
  FaultConfig config GUARDED_BY(mu);
  Rng rng GUARDED_BY(mu);
  FaultStats stats GUARDED_BY(mu);

  // A draw against drop_probability. REQUIRES: mu held.
  bool Drop() REQUIRES(mu) {
    return config.drop_probability > 0 && rng.NextDouble() < config.drop_probability;
  }
};

FaultTransport::FaultTransport(asio::io_context* core_io, uint64_t seed)
    : state_(std::make_shared<State>(core_io, seed)) {
  DKV_ASSERT(core_io != nullptr);
}

FaultTransport::~FaultTransport() { Attach(nullptr); }

void FaultTransport::Attach(node::Transport* inner) {
  MutexLock lock(&state_->mu);
  state_->inner = inner;
}

node::BatchHandler FaultTransport::WrapIncoming(node::BatchHandler handler) {
  return [state = state_, handler = std::move(handler)](node::MessageBatch batch) {
    {
      MutexLock lock(&state->mu);
      if (state->config.partitioned.count(batch.from) != 0 || state->Drop()) {
        state->stats.dropped_incoming++;
        return;
      }
    }
    handler(std::move(batch));
  };
}

Status FaultTransport::SetFaults(FaultConfig config) {
  if (!(config.drop_probability >= 0.0 && config.drop_probability <= 1.0)) {
    return Status::InvalidArgument("fault config", "drop probability outside [0, 1]");
  }
  if (config.delay_min.count() < 0 || config.delay_min > config.delay_max) {
    return Status::InvalidArgument("fault config", "need 0 <= delay_min <= delay_max");
  }
  MutexLock lock(&state_->mu);
  state_->config = std::move(config);
  return Status::OK();
}

FaultStats FaultTransport::Stats() const {
  MutexLock lock(&state_->mu);
  return state_->stats;
}

void FaultTransport::Send(node::MessageBatch batch) {
  std::chrono::milliseconds delay{0};
  node::Transport* inner = nullptr;
  {
    MutexLock lock(&state_->mu);
    if (state_->inner == nullptr || state_->config.partitioned.count(batch.to) != 0 ||
        state_->Drop()) {
      state_->stats.dropped_outgoing++;
      return;
    }
    if (state_->config.delay_max.count() > 0) {
      delay = std::chrono::milliseconds(
          state_->rng.Range(state_->config.delay_min.count(), state_->config.delay_max.count()));
    }
    if (delay.count() == 0) {
      inner = state_->inner;
    } else {
      state_->stats.delayed++;
    }
  }
  if (inner != nullptr) {
    inner->Send(std::move(batch));  // outside the lock: the inner transport may take its own
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(*state_->core_io, delay);
  timer->async_wait(
      [state = state_, timer, b = std::move(batch)](const asio::error_code& ec) mutable {
        if (ec) return;
        node::Transport* now = nullptr;
        {
          MutexLock lock(&state->mu);
          now = state->inner;
          // A partition that began while the batch was in flight also cuts it.
          if (now == nullptr || state->config.partitioned.count(b.to) != 0) {
            state->stats.dropped_outgoing++;
            return;
          }
        }
        now->Send(std::move(b));
      });
}

bool FaultTransport::Reachable(node::NodeId peer) const {
  node::Transport* inner = nullptr;
  {
    MutexLock lock(&state_->mu);
    if (state_->config.partitioned.count(peer) != 0) return false;
    inner = state_->inner;
  }
  return inner != nullptr && inner->Reachable(peer);
}

}  // namespace dkv::transport

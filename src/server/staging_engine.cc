#include "server/staging_engine.h"

#include "common/assert.h"

namespace dkv::server {

StagingEngine::StagingEngine(KvEngine* base, CommittedFn on_committed)
    : base_(base), on_committed_(std::move(on_committed)) {}

StagingEngine::~StagingEngine() { Stop(); }

void StagingEngine::Start() {
  DKV_ASSERT(!started_);
  started_ = true;
  thread_ = std::thread([this] { CommitLoop(); });
}

void StagingEngine::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status StagingEngine::Get(std::string_view key, std::string* value) {
  if (!overlay_.empty()) {
    auto it = overlay_.find(std::string(key));
    if (it != overlay_.end()) {
      if (!it->second.value) return Status::NotFound("staged", "deleted");
      *value = *it->second.value;
      return Status::OK();
    }
  }
  return base_->Get(key, value);
}

Status StagingEngine::Apply(const std::vector<KvWrite>& writes) {
  for (const KvWrite& w : writes) {
    Entry& e = overlay_[w.key];
    if (w.is_delete) {
      e.value.reset();
    } else {
      e.value = w.value;
    }
    e.ticket = next_ticket_;
    staging_.push_back(w);
  }
  return Status::OK();
}

Status StagingEngine::ApplyMoved(std::vector<KvWrite>&& writes) {
  for (KvWrite& w : writes) {
    Entry& e = overlay_[w.key];
    if (w.is_delete) {
      e.value.reset();
    } else {
      e.value = w.value;
    }
    e.ticket = next_ticket_;
    staging_.push_back(std::move(w));
  }
  return Status::OK();
}

uint64_t StagingEngine::Submit(bool sync) {
  if (staging_.empty() && !sync) return next_ticket_ - 1;
  Batch b;
  b.ticket = next_ticket_++;
  b.sync = sync;
  b.writes = std::make_shared<const std::vector<KvWrite>>(std::move(staging_));
  staging_.clear();
  unretired_.push_back(b);
  if (!started_) {
    // Before the commit thread runs (loading) or in tests: commit inline.
    bool synced = false;
    Status s = Commit({b}, &synced);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!s.ok() && failure_.ok()) failure_ = s;
      committed_ = b.ticket;
    }
    on_committed_(b.ticket, synced, s);
    return b.ticket;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(b));
  }
  work_cv_.notify_one();
  return next_ticket_ - 1;
}

void StagingEngine::Retire(uint64_t ticket) {
  while (!unretired_.empty() && unretired_.front().ticket <= ticket) {
    const Batch& b = unretired_.front();
    for (const KvWrite& w : *b.writes) {
      auto it = overlay_.find(w.key);
      // A later staged write of the same key keeps its entry.
      if (it != overlay_.end() && it->second.ticket <= ticket) overlay_.erase(it);
    }
    unretired_.pop_front();
  }
}

Status StagingEngine::WaitCommitted(uint64_t ticket) {
  std::unique_lock<std::mutex> l(mu_);
  done_cv_.wait(l, [&] { return committed_ >= ticket || !failure_.ok(); });
  return failure_;
}

Status StagingEngine::Sync() {
  uint64_t t = Submit(true);
  Status s = WaitCommitted(t);
  Retire(t);
  return s;
}

Status StagingEngine::Scan(std::string_view start, std::string_view limit, size_t max,
                           std::vector<std::pair<std::string, std::string>>* out) {
  // The overlay could be merged into the scan instead; scans are rare and
  // already O(n), so waiting for the commit thread keeps this simple.
  if (!unretired_.empty() || HasStaged()) {
    // Synced: a connection may be waiting for this ticket under
    // appendfsync always (scans are rare, the extra fsync is cheap).
    uint64_t t = Submit(true);
    DKV_RETURN_IF_ERROR(WaitCommitted(t));
    Retire(t);
  }
  DKV_ASSERT(overlay_.empty());
  return base_->Scan(start, limit, max, out);
}

Status StagingEngine::Commit(const std::vector<Batch>& group, bool* synced) {
  DKV_ASSERT(!group.empty());
  bool sync = false;
  *synced = false;
  std::vector<const std::vector<KvWrite>*> lists;
  lists.reserve(group.size());
  for (const Batch& b : group) {
    sync = sync || b.sync;
    if (!b.writes->empty()) lists.push_back(b.writes.get());
  }
  if (!lists.empty()) DKV_RETURN_IF_ERROR(base_->ApplyMany(lists));
  if (sync) DKV_RETURN_IF_ERROR(base_->Sync());
  *synced = sync;
  return Status::OK();
}

void StagingEngine::CommitLoop() {
  std::vector<Batch> group;
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    work_cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      DKV_ASSERT(stop_);
      return;
    }
    group.clear();
    group.swap(queue_);
    l.unlock();
    // Everything queued while the previous commit ran goes in this one: the
    // slower the disk, the larger the group.
    bool synced = false;
    Status s = Commit(group, &synced);
    uint64_t ticket = group.back().ticket;
    DKV_ASSERT(ticket >= group.front().ticket);
    // Drop our references first, so the loop (which allocated the writes)
    // frees them when it retires the batch: no cross-thread frees.
    group.clear();
    on_committed_(ticket, synced, s);
    l.lock();
    if (!s.ok() && failure_.ok()) failure_ = s;
    committed_ = ticket;
    done_cv_.notify_all();
  }
}

}  // namespace dkv::server

#include "server/staging_engine.h"

#include <functional>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "server/limits.h"
#include "storage/dbformat.h"

namespace dkv::server {

namespace {

// The overlay starts at this many slots and doubles when half full.
constexpr size_t kMinOverlaySlots = 64;

// Decodes the record at `offset` of a WriteBatch's bytes (written by Stage,
// so well-formed). *value is empty for a delete.
bool DecodeRecord(std::string_view rep, uint32_t offset, std::string_view* key,
                  std::string_view* value) {
  DKV_DASSERT(offset >= storage::WriteBatch::kHeaderSize);
  DKV_DASSERT(offset < rep.size());
  std::string_view in = rep.substr(offset);
  const bool is_put =
      static_cast<uint8_t>(in[0]) == static_cast<uint8_t>(storage::ValueType::kValue);
  in.remove_prefix(1);
  bool ok = GetLengthPrefixed(&in, key);
  *value = std::string_view();
  if (ok && is_put) ok = GetLengthPrefixed(&in, value);
  DKV_ASSERT(ok);
  return is_put;
}

}  // namespace

StagingEngine::StagingEngine(KvEngine* base, CommittedFn on_committed)
    : base_(base), on_committed_(std::move(on_committed)), overlay_(kMinOverlaySlots) {}

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

size_t StagingEngine::FindSlot(uint64_t h, std::string_view key) const {
  const size_t mask = overlay_.size() - 1;
  // Bounded: the table is at most half full, so an empty slot ends the probe.
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = overlay_[i];
    if (s.batch == nullptr) return kNone;
    if (s.hash != h) continue;
    std::string_view k;
    std::string_view v;
    DecodeRecord(s.batch->batch.Contents(), s.offset, &k, &v);
    if (k == key) return i;
  }
}

size_t StagingEngine::EmptySlotFor(uint64_t h) const {
  const size_t mask = overlay_.size() - 1;
  size_t i = h & mask;
  while (overlay_[i].batch != nullptr) i = (i + 1) & mask;
  return i;
}

void StagingEngine::EraseSlot(size_t i) {
  // Backward-shift deletion: move later members of the probe run into the
  // hole when their home slot does not lie between the hole and them.
  const size_t mask = overlay_.size() - 1;
  DKV_ASSERT(overlay_[i].batch != nullptr);
  DKV_ASSERT(overlay_size_ > 0);
  overlay_[i] = Slot{};
  overlay_size_--;
  for (size_t j = (i + 1) & mask; overlay_[j].batch != nullptr; j = (j + 1) & mask) {
    const size_t home = overlay_[j].hash & mask;
    // j may move to i if home is not in (i, j] (cyclically).
    const bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (stays) continue;
    overlay_[i] = overlay_[j];
    overlay_[j] = Slot{};
    i = j;
  }
}

void StagingEngine::GrowOverlay() {
  std::vector<Slot> old(overlay_.size() * 2);
  old.swap(overlay_);
  for (const Slot& s : old) {
    if (s.batch != nullptr) overlay_[EmptySlotFor(s.hash)] = s;
  }
}

StagingEngine::Staged* StagingEngine::StagingBatch() {
  if (staging_ == nullptr) {
    if (!spare_.empty()) {
      staging_ = std::move(spare_.back());
      spare_.pop_back();
    } else {
      staging_ = std::make_shared<Staged>();
    }
    DKV_DASSERT(staging_->batch.Count() == 0);
    staging_->ticket = next_ticket_;
  }
  return staging_.get();
}

void StagingEngine::Stage(bool is_delete, std::string_view key, std::string_view value) {
  Staged* b = StagingBatch();
  const size_t offset = b->batch.ApproximateSize();
  // Offsets are 32-bit: a batch that would pass 4 GiB is submitted first.
  if (offset + key.size() + value.size() + 16 > UINT32_MAX && b->batch.Count() > 0) {
    Submit(false);
    Stage(is_delete, key, value);
    return;
  }
  DKV_ASSERT(offset <= UINT32_MAX);
  if (is_delete) {
    b->batch.Delete(key);
  } else {
    b->batch.Put(key, value);
  }
  const uint64_t h = Hash64(key);
  b->hashes.push_back(h);
  const size_t i = FindSlot(h, key);
  if (i != kNone) {
    overlay_[i].batch = b;  // the newest write of the key wins
    overlay_[i].offset = static_cast<uint32_t>(offset);
    return;
  }
  if ((overlay_size_ + 1) * 2 > overlay_.size()) GrowOverlay();
  overlay_[EmptySlotFor(h)] = Slot{h, b, static_cast<uint32_t>(offset)};
  overlay_size_++;
}

Status StagingEngine::Get(std::string_view key, std::string* value) {
  if (overlay_size_ > 0) {
    const size_t i = FindSlot(Hash64(key), key);
    if (i != kNone) {
      std::string_view k;
      std::string_view v;
      if (!DecodeRecord(overlay_[i].batch->batch.Contents(), overlay_[i].offset, &k, &v)) {
        return Status::NotFound("staged", "deleted");
      }
      value->assign(v.data(), v.size());
      return Status::OK();
    }
  }
  return base_->Get(key, value);
}

Status StagingEngine::Apply(const std::vector<KvWrite>& writes) {
  // All of them land in one staged batch, so they commit atomically.
  for (const KvWrite& w : writes) Stage(w.is_delete, w.key, w.value);
  return Status::OK();
}

Status StagingEngine::Put(std::string_view key, std::string_view value) {
  Stage(false, key, value);
  return Status::OK();
}

Status StagingEngine::Delete(std::string_view key) {
  Stage(true, key, std::string_view());
  return Status::OK();
}

Status StagingEngine::Write(const storage::WriteBatch& batch, bool sync) {
  struct Stager final : storage::WriteBatch::Handler {
    StagingEngine* self;
    void Put(std::string_view key, std::string_view value) override {
      self->Stage(false, key, value);
    }
    void Delete(std::string_view key) override { self->Stage(true, key, std::string_view()); }
  } stager;
  stager.self = this;
  DKV_RETURN_IF_ERROR(batch.Iterate(&stager));
  return sync ? Sync() : Status::OK();
}

uint64_t StagingEngine::Submit(bool sync) {
  if (!HasStaged() && !sync) return next_ticket_ - 1;
  StagingBatch();
  std::shared_ptr<Staged> b = std::move(staging_);
  staging_ = nullptr;
  DKV_ASSERT(b->ticket == next_ticket_);
  next_ticket_++;
  b->sync = sync;
  unretired_.push_back(b);
  if (!started_) {
    // Before the commit thread runs (loading) or in tests: commit inline.
    bool synced = false;
    Status s = Commit({b}, &synced, nullptr);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!s.ok() && failure_.ok()) failure_ = s;
      committed_ = b->ticket;
    }
    on_committed_(b->ticket, synced, s);
    return next_ticket_ - 1;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    queue_.push_back(std::move(b));
  }
  work_cv_.notify_one();
  return next_ticket_ - 1;
}

bool StagingEngine::TryCommitInline(bool sync, uint64_t* ticket, Status* status,
                                    const std::function<void(uint64_t ticket)>& on_logged) {
  if (!HasStaged()) return false;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Only the loop queues work, so an idle commit thread stays idle until
    // this returns: nothing can be committed out of order.
    if (!queue_.empty() || committing_ || !failure_.ok()) return false;
  }
  std::shared_ptr<Staged> b = std::move(staging_);
  staging_ = nullptr;
  DKV_ASSERT(b->ticket == next_ticket_);
  next_ticket_++;
  b->sync = sync;
  unretired_.push_back(b);
  bool synced = false;
  const uint64_t t = b->ticket;
  const std::function<void(bool)> logged = [&on_logged, t](bool) { on_logged(t); };
  Status s = Commit({b}, &synced, on_logged ? &logged : nullptr);
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!s.ok() && failure_.ok()) failure_ = s;
    committed_ = b->ticket;
  }
  done_cv_.notify_all();
  *ticket = b->ticket;
  *status = s;
  return true;
}

void StagingEngine::Recycle(std::shared_ptr<Staged> b) {
  // Reuse keeps the batch's buffer, so staging allocates nothing once warm;
  // a huge batch (a big MSET) gives its memory back instead.
  if (spare_.size() >= kMaxSpareStagedBatches || b.use_count() != 1 ||
      b->batch.ApproximateSize() > kMaxPreallocBytes) {
    return;
  }
  b->batch.Clear();
  b->hashes.clear();
  spare_.push_back(std::move(b));
}

void StagingEngine::Retire(uint64_t ticket) {
  DKV_DASSERT(ticket <= applied_ticket());
  while (!unretired_.empty() && unretired_.front()->ticket <= ticket) {
    std::shared_ptr<Staged> b = std::move(unretired_.front());
    unretired_.pop_front();
    if (overlay_size_ > 0) {
      const size_t mask = overlay_.size() - 1;
      for (uint64_t h : b->hashes) {
        // Drop this batch's slots with hash h; a later batch's write of the
        // same key keeps its slot. EraseSlot may shift a later slot into i.
        for (size_t i = h & mask; overlay_[i].batch != nullptr;) {
          if (overlay_[i].hash == h && overlay_[i].batch == b.get()) {
            EraseSlot(i);
          } else {
            i = (i + 1) & mask;
          }
        }
      }
    }
    Recycle(std::move(b));
  }
  if (unretired_.empty() && staging_ == nullptr) DKV_ASSERT(overlay_size_ == 0);
}

uint64_t StagingEngine::applied_ticket() {
  std::lock_guard<std::mutex> l(mu_);
  return committed_;
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
  DKV_ASSERT(overlay_size_ == 0);
  return base_->Scan(start, limit, max, out);
}

Status StagingEngine::Commit(const std::vector<std::shared_ptr<const Staged>>& group, bool* synced,
                             const std::function<void(bool synced)>* on_logged) {
  DKV_ASSERT(!group.empty());
  bool sync = false;
  size_t nonempty = 0;
  const storage::WriteBatch* only = nullptr;
  for (const auto& b : group) {
    sync = sync || b->sync;
    if (b->batch.Count() > 0) {
      nonempty++;
      only = &b->batch;
    }
  }
  *synced = false;
  if (nonempty > 1) {
    // Several rounds' batches: one engine write (and fsync) for all of them.
    group_batch_.Clear();
    for (const auto& b : group) group_batch_.Append(b->batch);
    only = &group_batch_;
  }
  if (only != nullptr) {
    if (on_logged != nullptr) {
      const std::function<void()> logged = [on_logged, sync] { (*on_logged)(sync); };
      DKV_RETURN_IF_ERROR(base_->WriteThenNotify(*only, sync, logged));
    } else {
      DKV_RETURN_IF_ERROR(base_->Write(*only, sync));
    }
  } else {
    if (sync) DKV_RETURN_IF_ERROR(base_->Sync());
    if (on_logged != nullptr) (*on_logged)(sync);
  }
  if (group_batch_.ApproximateSize() > kMaxPreallocBytes) group_batch_ = storage::WriteBatch();
  *synced = sync;
  return Status::OK();
}

void StagingEngine::CommitLoop() {
  std::vector<std::shared_ptr<const Staged>> group;
  uint64_t current = 0;   // the ticket of the group being committed
  bool reported = false;  // its durability was reported
  const std::function<void(bool)> on_logged = [this, &current, &reported](bool sync) {
    reported = true;
    on_committed_(current, sync, Status::OK());
  };
  std::unique_lock<std::mutex> l(mu_);
  while (true) {
    work_cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) {
      DKV_ASSERT(stop_);
      return;
    }
    group.clear();
    group.swap(queue_);
    committing_ = true;
    l.unlock();
    // Everything queued while the previous commit ran goes in this one: the
    // slower the disk, the larger the group.
    bool synced = false;
    const uint64_t ticket = group.back()->ticket;
    DKV_ASSERT(ticket >= group.front()->ticket);
    // The replies may leave once the group is durable, before the engine's
    // memtable insert: the loop's overlay serves these writes until
    // committed_ (applied) covers them.
    reported = false;
    current = ticket;
    Status s = Commit(group, &synced, &on_logged);
    // Drop our references first, so the loop (which allocated the batches)
    // reuses or frees them when it retires them: no cross-thread frees.
    group.clear();
    if (!s.ok() || !reported) on_committed_(ticket, synced, s);
    l.lock();
    committing_ = false;
    if (!s.ok() && failure_.ok()) failure_ = s;
    committed_ = ticket;
    done_cv_.notify_all();
  }
}

}  // namespace dkv::server

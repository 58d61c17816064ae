// Membership (single-server changes that take effect when appended, see
// docs/raft.md section 4) and the status snapshot.
#include <algorithm>

#include "raft/raft.h"

namespace dkv::raft {

void Raft::AppendToLog(const std::vector<Entry>& ents, size_t from) {
  const uint64_t first_new = ents[from].index;
  // Entries at or after first_new are being replaced: forget the membership they
  // brought (thesis §4.1: a server uses the latest configuration in its log).
  bool changed = false;
  while (!conf_history_.empty() && conf_history_.back().index >= first_new) {
    conf_history_.pop_back();
    changed = true;
  }
  log_.Append(ents, from);
  for (size_t k = from; k < ents.size(); k++) {
    const Entry& e = ents[k];
    if (e.type != EntryType::kConfChange) continue;
    Result<ConfChange> cc = DecodeConfChange(e.data);
    if (!cc.ok()) continue;  // a garbled change is a no-op, like an invalid one
    const ConfState& prev = conf_history_.empty() ? conf_base_ : conf_history_.back().conf;
    conf_history_.push_back({e.index, ApplyConfChange(prev, *cc)});
    changed = true;
  }
  if (changed) {
    if (conf_history_.empty()) {
      SetConf(conf_base_, 0);
    } else {
      SetConf(conf_history_.back().conf, conf_history_.back().index);
    }
  }
}

void Raft::SetConf(const ConfState& conf, uint64_t index) {
  conf_ = conf;
  conf_index_ = index;
  if (role_ != Role::kLeader) return;
  SyncProgress();
  if (lead_transferee_ != kNoNode && !conf_.IsVoter(lead_transferee_)) AbortLeaderTransfer();
}

void Raft::FoldConfHistory() {
  // Committed changes can never be truncated: fold them into the base.
  size_t k = 0;
  while (k < conf_history_.size() && conf_history_[k].index <= log_.committed()) {
    conf_base_ = conf_history_[k].conf;
    k++;
  }
  if (k > 0) conf_history_.erase(conf_history_.begin(), conf_history_.begin() + k);
}

Progress& Raft::AddProgress(NodeId id, bool learner) {
  auto [it, inserted] =
      prs_.try_emplace(id, log_.LastIndex() + 1, config_.max_inflight_msgs, learner);
  if (inserted) it->second.recent_active = true;  // give a new member a full period
  it->second.is_learner = learner;
  return it->second;
}

void Raft::SyncProgress() {
  for (auto it = prs_.begin(); it != prs_.end();) {
    if (!conf_.Contains(it->first)) {
      it = prs_.erase(it);
    } else {
      ++it;
    }
  }
  for (NodeId v : conf_.voters) AddProgress(v, false);
  for (NodeId l : conf_.learners) AddProgress(l, true);
}

const Progress* Raft::progress(NodeId id) const {
  auto it = prs_.find(id);
  return it == prs_.end() ? nullptr : &it->second;
}

NodeStatus Raft::GetBasicStatus() const {
  NodeStatus s;
  s.id = id_;
  s.role = role_;
  s.leader_id = lead_;
  s.hard_state = hard_state();
  s.applied = log_.applied();
  s.last_index = log_.LastIndex();
  s.lead_transferee = lead_transferee_;
  return s;
}

NodeStatus Raft::GetStatus() const {
  NodeStatus s = GetBasicStatus();
  s.conf_state = conf_;
  for (const auto& [id, pr] : prs_) {
    s.progress.push_back({id, pr.match, pr.next, pr.state, pr.recent_active, pr.is_learner,
                          pr.inflights.Count(), pr.pending_snapshot, pr.snapshot_offset});
  }
  return s;
}

}  // namespace dkv::raft

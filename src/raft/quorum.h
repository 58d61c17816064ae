// Majority quorums and single-server membership changes.
//
// DistKV uses one-at-a-time membership changes (thesis §4.1), so a quorum is always
// a simple majority of the voters of one configuration. These are pure functions
// over a ConfState; thread-safe. The safety argument is in docs/raft.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "common/status.h"
#include "raft/types.h"

namespace dkv::raft {

// The largest value v such that a majority of `voters` have value(id) >= v.
// Returns 0 when there are no voters. Used for the commit index (value = match),
// ReadIndex acknowledgements and lease ticks.
uint64_t MajorityValue(const std::vector<NodeId>& voters,
                       const std::function<uint64_t(NodeId)>& value);

enum class VoteResult : uint8_t { kPending = 0, kLost = 1, kWon = 2 };

// Tallies `votes` (id -> granted) over `voters`; votes from non-voters are ignored.
VoteResult MajorityVoteResult(const std::vector<NodeId>& voters,
                              const std::map<NodeId, bool>& votes);

// OK if `cc` can be applied to `cs`: InvalidArgument otherwise (adding an existing
// voter, demoting a voter to learner, removing a non-member or the last voter).
Status ValidateConfChange(const ConfState& cs, const ConfChange& cc);

// `cs` with `cc` applied. Changes that ValidateConfChange rejects leave cs unchanged
// (a follower applies whatever the leader logged, and a no-op is the safe reading).
ConfState ApplyConfChange(const ConfState& cs, const ConfChange& cc);

}  // namespace dkv::raft

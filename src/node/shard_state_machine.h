// ShardStateMachine: one replica's data — the "kv engine" of a shard, one
// storage::DB per replica in its own directory under the node's data dir.
//
// It stores MVCC versions: (user key, HLC commit timestamp) -> value with a
// small header, applies committed Raft entries (ShardCommand), answers reads at
// the latest or a given timestamp, collects versions below a safe point, and
// turns the engine into a Raft snapshot streamed from a checkpoint's files and
// back (shard_snapshot.h). Frozen layouts (docs/node.md):
//
//   0x01 'A'                          -> applied state (index, term, conf, max ts, gc point
//                                        [, gc cursor while a pass runs])
//   0x02 | escape(user key) | ~ts(12) -> value header | value
//   escape: 0x00 -> 0x00 0xFF, then the terminator 0x00 0x01 (order-preserving,
//           prefix-free); ~ts: the 12-byte Timestamp encoding, bitwise inverted
//           so a key's newest version sorts first.
//   value header: flags(1; bit0 = tombstone) | value kind(1; 0 = plain bytes,
//           later CRDT types) | lp metadata
//   metadata: a sequence of tagged fields, each at most once, in tag order;
//           empty for a value without any (every value written before TTLs):
//           tag 0x01 | expire at (8, fixed64): absolute expiry, ms since the
//           Unix epoch (> 0). A version whose expiry <= a read's time (ms of
//           its timestamp) is absent to that read, like a tombstone.
//
// A kEval entry (a Redis read-modify-write) is evaluated at apply time against
// the key's live version at the entry's commit timestamp (EvaluateEval); its
// answer is kept for the proposer (TakeEvalResult) and its write lands at
// that timestamp. Apply writes data and the applied state in ONE batch WITHOUT fsync: the Raft
// log is the durable record, and after a crash the node replays entries from
// applied + 1 (replay is idempotent: same key, same timestamp, same bytes).
// Owned by the Node; not thread-safe (the Node's thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "node/shard_command.h"
#include "node/shard_snapshot.h"
#include "raft/types.h"
#include "storage/db.h"
#include "storage/env.h"
#include "time/hlc.h"

namespace dkv::node {

using ShardId = uint64_t;

// Where the state machine stands. Persisted with every applied batch.
struct AppliedState {
  uint64_t index = 0;
  uint64_t term = 0;
  raft::ConfState conf;  // membership as of `index`
  // The largest commit timestamp applied: the next write gets a larger one, so
  // log order and timestamp order agree on every replica.
  Timestamp max_ts;
  // Versions only reads at or above this are guaranteed to find: the point of
  // the newest GC pass started (reads below it are refused).
  Timestamp gc_safe_point;
  // A GC pass in progress (collecting below gc_safe_point) resumes at this MVCC
  // key; empty when no pass runs. gc_cursor_kept: the cursor's user key already
  // kept its newest version at or below the point earlier in the pass.
  std::string gc_cursor;
  bool gc_cursor_kept = false;
  friend bool operator==(const AppliedState&, const AppliedState&) = default;
};

std::string EncodeAppliedState(const AppliedState& s);
Result<AppliedState> DecodeAppliedState(std::string_view v);

// MVCC key and value encodings (public for tests and tools).
std::string MvccKey(std::string_view user_key, const Timestamp& ts);
// The prefix every version of user_key shares.
std::string MvccKeyPrefix(std::string_view user_key);
// Splits an MVCC key; Corruption when it is not one.
Status ParseMvccKey(std::string_view key, std::string* user_key, Timestamp* ts);

// The result of one read.
struct ReadResult {
  bool found = false;  // false: no version, or the newest visible one is a delete or expired
  std::string value;
  Timestamp ts;              // the version's commit timestamp when found
  int64_t expire_at_ms = 0;  // its expiry (ms since the epoch) when found; 0: none
};

// The MVCC value encoding (header | value; see above), public for tests and
// tools. DecodeMvccValue returns Corruption for anything else.
std::string EncodeMvccValue(bool tombstone, int64_t expire_at_ms, std::string_view value);
Status DecodeMvccValue(std::string_view v, bool* tombstone, int64_t* expire_at_ms,
                       std::string_view* value);
// Whether a version expiring at expire_at_ms (0: never) is gone at `at`.
bool ExpiredAt(int64_t expire_at_ms, const Timestamp& at);

class ShardStateMachine {
 public:
  // Opens the replica's engine under base_dir (creating an empty one if there
  // is none): base_dir/shard-<id>.CURRENT names the live directory.
  static Result<std::unique_ptr<ShardStateMachine>> Open(storage::Env* env,
                                                         const std::string& base_dir,
                                                         ShardId shard);
  // True when base_dir holds an engine for `shard` (its CURRENT file).
  static bool Exists(storage::Env* env, const std::string& base_dir, ShardId shard);
  ~ShardStateMachine();
  ShardStateMachine(const ShardStateMachine&) = delete;
  ShardStateMachine& operator=(const ShardStateMachine&) = delete;

  ShardId shard() const { return shard_; }
  const AppliedState& applied() const { return applied_; }

  // Applies committed entries, in order, as one unsynced batch together with
  // the new applied state. Entries at or below applied().index are skipped
  // (replay). Conf change entries update applied().conf; undecodable commands
  // are skipped on every replica alike and counted. A kGc command runs one
  // bounded step of a GC pass (GcStep). Fails only with the engine's error.
  // REQUIRES: entries are contiguous and start at or below applied().index + 1.
  Status Apply(const std::vector<raft::Entry>& entries);

  // The newest version of `key` with commit ts <= `at` (latest when nullopt).
  // A version expired at `at` (or, reading the latest, at `now`; at the
  // newest applied timestamp when that is nullopt too) is not found.
  // InvalidArgument when `at` is below the GC safe point (that history is gone).
  Result<ReadResult> Get(std::string_view key, std::optional<Timestamp> at = std::nullopt,
                         std::optional<Timestamp> now = std::nullopt);

  // Up to `limit` live user keys (not deleted, not expired at `now`) in key
  // order, strictly after `after` ("" = from the first key), examining at
  // most kMaxScanVersions versions. `*next` is the key to continue after, ""
  // when the scan reached the shard's end. REQUIRES: limit >= 1.
  Status ScanKeys(std::string_view after, size_t limit, const Timestamp& now,
                  std::vector<std::string>* keys, std::string* next);

  // The answer of the kEval entry at `index` applied by the last Apply call
  // (EncodeEvalResult), removed from here; empty when there is none. Results
  // nobody takes are dropped at the next Apply.
  std::string TakeEvalResult(uint64_t index);

  // Deletes every version no read at or above safe_point can see: for each key,
  // all versions older than its newest version at or below safe_point, and that
  // one too if it is a tombstone. Runs a whole pass here, in steps (finishing a
  // pass already in progress first). Returns how many versions were dropped.
  // Local (tests, tools); replicas collect through kGc commands (Apply).
  Result<uint64_t> GarbageCollect(const Timestamp& safe_point);

  // Versions examined per GC step (default kMaxGcVersionsPerStep; tests use
  // small values to split passes). Every replica must use the same value for
  // their engines to stay identical. REQUIRES: n >= 1.
  void set_gc_versions_per_step(size_t n);

  // Makes everything applied so far durable (before the raft log is compacted
  // past it).
  Status Sync();

  // A snapshot of the engine as it stands (docs/node.md "Snapshots"): a
  // checkpoint in its own directory, served piece by piece from its files and
  // deleted when the source is dropped. The applied state inside it says which
  // log index it stands at (applied() now).
  Result<std::shared_ptr<const raft::SnapshotSource>> CreateSnapshotSource();
  // The same bytes in memory (tests, tools): bounded by the shard's size.
  Result<std::string> CreateSnapshot();

  // Where Raft writes the snapshot chunks this replica receives: they are
  // decoded and written into the next generation's directory as they arrive.
  // Valid as long as this object.
  raft::SnapshotSink* snapshot_sink();
  // Switches to the snapshot the sink received completely (Raft's Ready with a
  // staged snapshot): opens it (files that are not a DB are Corruption and the
  // old engine stays), switches CURRENT to it durably, deletes the old engine.
  // InvalidArgument when the sink holds no finished snapshot.
  Status InstallReceivedSnapshot();
  // Replaces the engine by the one in `data` through the same path (tests):
  // Corruption for bad bytes; the old engine stays.
  Status RestoreSnapshot(std::string_view data);

  // Closes the engine and deletes its files and CURRENT. The object is
  // unusable afterwards.
  Status Destroy();

  // Entries skipped because their command did not decode.
  uint64_t bad_commands() const { return bad_commands_; }
  storage::DB* db() { return db_.get(); }

 private:
  ShardStateMachine(storage::Env* env, std::string base_dir, ShardId shard);
  Status OpenGeneration(uint64_t generation, bool create);
  std::string GenerationDir(uint64_t generation) const;
  std::string CurrentFile() const;
  std::string CheckpointPrefix() const;
  Status WriteCurrent(uint64_t generation);
  class Sink;
  void ApplyWrite(const ShardCommand& cmd, storage::WriteBatch* batch);
  // Evaluates a kEval command at cmd.ts against the engine (everything before
  // it is written), stages its write in `batch`, returns the encoded answer.
  Result<std::string> ApplyEval(const ShardCommand& cmd, storage::WriteBatch* batch);
  // One kGc command (shard_gc.cc): starts a pass at `point` when none runs and
  // `point` is above the last one, then runs one step of the pass: examines at
  // most gc_versions_per_step_ versions from next->gc_cursor, stages their
  // deletes in `batch` and moves the cursor in `next`. Returns versions dropped.
  // REQUIRES: `batch` holds nothing the step's reads would need to see.
  Result<uint64_t> GcStep(const Timestamp& point, AppliedState* next, storage::WriteBatch* batch);

  storage::Env* env_;
  const std::string base_dir_;
  const ShardId shard_;
  uint64_t generation_ = 0;
  std::unique_ptr<storage::DB> db_;
  AppliedState applied_;
  uint64_t bad_commands_ = 0;
  std::map<uint64_t, std::string> eval_results_;  // index -> answer, from the last Apply
  size_t gc_versions_per_step_;
  SnapshotReceiver receiver_;
  std::unique_ptr<Sink> sink_;
  uint64_t checkpoint_seq_ = 0;  // names this process's checkpoint directories
};

}  // namespace dkv::node

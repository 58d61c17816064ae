#include "node/shard_state_machine.h"

#include <algorithm>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "node/limits.h"
#include "raft/quorum.h"
#include "storage/options.h"
#include "storage/write_batch.h"

namespace dkv::node {

namespace {

constexpr char kMetaPrefix = 0x01;
constexpr char kDataPrefix = 0x02;
const std::string kAppliedKey = std::string(1, kMetaPrefix) + "A";

constexpr uint8_t kFlagTombstone = 0x01;
constexpr uint8_t kValueKindPlain = 0;

const Timestamp kMaxTimestamp{INT64_MAX, Timestamp::kMaxLogical};

Timestamp NextTimestamp(const Timestamp& t) {
  if (t.logical == Timestamp::kMaxLogical) return Timestamp{t.wall_time_us + 1, 0};
  return Timestamp{t.wall_time_us, t.logical + 1};
}

// The timestamp just below t. REQUIRES: t > the zero timestamp.
Timestamp PreviousTimestamp(const Timestamp& t) {
  if (t.logical == 0) return Timestamp{t.wall_time_us - 1, Timestamp::kMaxLogical};
  return Timestamp{t.wall_time_us, t.logical - 1};
}

void PutIds(std::string* dst, const std::vector<raft::NodeId>& ids) {
  PutVarint64(dst, ids.size());
  for (raft::NodeId id : ids) PutVarint64(dst, id);
}

bool GetIds(std::string_view* in, std::vector<raft::NodeId>* ids) {
  uint64_t n;
  if (!GetVarint64(in, &n) || n > in->size()) return false;
  ids->clear();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t id;
    if (!GetVarint64(in, &id)) return false;
    ids->push_back(id);
  }
  return true;
}

bool GetTs(std::string_view* in, Timestamp* ts) {
  if (in->size() < Timestamp::kEncodedSize) return false;
  auto r = Timestamp::Decode(in->substr(0, Timestamp::kEncodedSize));
  if (!r.ok()) return false;
  *ts = *r;
  in->remove_prefix(Timestamp::kEncodedSize);
  return true;
}

constexpr uint8_t kMetaTagExpireAt = 0x01;

std::string EncodeValue(bool tombstone, std::string_view value) {
  return EncodeMvccValue(tombstone, 0, value);
}

// Removes a flat directory and its files; a missing directory is fine.
void RemoveDirAndFiles(storage::Env* env, const std::string& dir) {
  auto children = env->GetChildren(dir);
  if (children.ok()) {
    for (const std::string& name : *children) env->RemoveFile(dir + "/" + name).IgnoreError();
  }
  env->RemoveDir(dir).IgnoreError();
}

}  // namespace

// ---------------------------------------------------------------------------
// Encodings

std::string EncodeMvccValue(bool tombstone, int64_t expire_at_ms, std::string_view value) {
  DKV_ASSERT(expire_at_ms >= 0);
  std::string meta;
  if (expire_at_ms != 0) {
    meta.push_back(static_cast<char>(kMetaTagExpireAt));
    PutFixed64(&meta, static_cast<uint64_t>(expire_at_ms));
  }
  std::string v;
  v.reserve(3 + meta.size() + value.size());
  v.push_back(static_cast<char>(tombstone ? kFlagTombstone : 0));
  v.push_back(static_cast<char>(kValueKindPlain));
  PutLengthPrefixed(&v, meta);
  v.append(value);
  return v;
}

Status DecodeMvccValue(std::string_view v, bool* tombstone, int64_t* expire_at_ms,
                       std::string_view* value) {
  if (v.size() < 2) return Status::Corruption("shard engine", "short value header");
  *tombstone = (static_cast<uint8_t>(v[0]) & kFlagTombstone) != 0;
  v.remove_prefix(2);
  std::string_view meta;
  if (!GetLengthPrefixed(&v, &meta))
    return Status::Corruption("shard engine", "bad value metadata");
  *expire_at_ms = 0;
  if (!meta.empty()) {
    uint64_t at = 0;
    if (static_cast<uint8_t>(meta[0]) != kMetaTagExpireAt) {
      return Status::Corruption("shard engine", "unknown value metadata field");
    }
    meta.remove_prefix(1);
    if (!GetFixed64(&meta, &at) || !meta.empty() || at == 0 || at > INT64_MAX) {
      return Status::Corruption("shard engine", "bad expiry in value metadata");
    }
    *expire_at_ms = static_cast<int64_t>(at);
  }
  *value = v;
  return Status::OK();
}

bool ExpiredAt(int64_t expire_at_ms, const Timestamp& at) {
  if (expire_at_ms == 0) return false;
  // expire_at_ms * 1000 <= wall_time_us, without overflow (floor division).
  const int64_t at_ms =
      at.wall_time_us >= 0 ? at.wall_time_us / 1000 : -((-at.wall_time_us + 999) / 1000);
  return expire_at_ms <= at_ms;
}

std::string EncodeAppliedState(const AppliedState& s) {
  std::string v;
  PutVarint64(&v, s.index);
  PutVarint64(&v, s.term);
  PutIds(&v, s.conf.voters);
  PutIds(&v, s.conf.learners);
  s.max_ts.EncodeTo(&v);
  s.gc_safe_point.EncodeTo(&v);
  // Only while a GC pass runs, so records written before passes were
  // incremental (and every idle replica's) keep their old, shorter form.
  if (!s.gc_cursor.empty()) {
    PutLengthPrefixed(&v, s.gc_cursor);
    v.push_back(static_cast<char>(s.gc_cursor_kept ? 1 : 0));
  }
  return v;
}

Result<AppliedState> DecodeAppliedState(std::string_view v) {
  AppliedState s;
  if (!GetVarint64(&v, &s.index) || !GetVarint64(&v, &s.term) || !GetIds(&v, &s.conf.voters) ||
      !GetIds(&v, &s.conf.learners) || !GetTs(&v, &s.max_ts) || !GetTs(&v, &s.gc_safe_point)) {
    return Status::Corruption("shard engine", "bad applied state");
  }
  if (!v.empty()) {
    std::string_view cursor;
    if (!GetLengthPrefixed(&v, &cursor) || cursor.empty() || v.size() != 1 ||
        static_cast<uint8_t>(v[0]) > 1) {
      return Status::Corruption("shard engine", "bad GC cursor in applied state");
    }
    s.gc_cursor.assign(cursor);
    s.gc_cursor_kept = v[0] == 1;
  }
  return s;
}

std::string MvccKeyPrefix(std::string_view user_key) {
  std::string k;
  k.reserve(user_key.size() + 3 + Timestamp::kEncodedSize);
  k.push_back(kDataPrefix);
  for (char c : user_key) {
    k.push_back(c);
    if (c == '\0') k.push_back('\xff');
  }
  k.push_back('\0');
  k.push_back('\x01');
  return k;
}

std::string MvccKey(std::string_view user_key, const Timestamp& ts) {
  std::string k = MvccKeyPrefix(user_key);
  const size_t at = k.size();
  ts.EncodeTo(&k);
  for (size_t i = at; i < k.size(); i++) k[i] = static_cast<char>(~k[i]);
  return k;
}

Status ParseMvccKey(std::string_view key, std::string* user_key, Timestamp* ts) {
  if (key.size() < 3 + Timestamp::kEncodedSize || key[0] != kDataPrefix) {
    return Status::Corruption("shard engine", "not an MVCC key");
  }
  std::string_view body = key.substr(1, key.size() - 1 - Timestamp::kEncodedSize);
  user_key->clear();
  size_t i = 0;
  for (;;) {
    if (i >= body.size()) return Status::Corruption("shard engine", "unterminated MVCC key");
    if (body[i] != '\0') {
      user_key->push_back(body[i++]);
      continue;
    }
    if (i + 1 >= body.size()) return Status::Corruption("shard engine", "unterminated MVCC key");
    if (body[i + 1] == '\xff') {
      user_key->push_back('\0');
      i += 2;
    } else if (body[i + 1] == '\x01' && i + 2 == body.size()) {
      break;
    } else {
      return Status::Corruption("shard engine", "bad escape in MVCC key");
    }
  }
  char inv[Timestamp::kEncodedSize];
  std::string_view enc = key.substr(key.size() - Timestamp::kEncodedSize);
  for (size_t j = 0; j < Timestamp::kEncodedSize; j++) inv[j] = static_cast<char>(~enc[j]);
  DKV_ASSIGN_OR_RETURN(*ts, Timestamp::Decode(std::string_view(inv, Timestamp::kEncodedSize)));
  return Status::OK();
}

// ---------------------------------------------------------------------------
// ShardStateMachine

ShardStateMachine::ShardStateMachine(storage::Env* env, std::string base_dir, ShardId shard)
    : env_(env),
      base_dir_(std::move(base_dir)),
      shard_(shard),
      gc_versions_per_step_(kMaxGcVersionsPerStep),
      receiver_(env) {}

ShardStateMachine::~ShardStateMachine() = default;

bool ShardStateMachine::Exists(storage::Env* env, const std::string& base_dir, ShardId shard) {
  return env->FileExists(base_dir + "/shard-" + std::to_string(shard) + ".CURRENT");
}

std::string ShardStateMachine::GenerationDir(uint64_t generation) const {
  return base_dir_ + "/shard-" + std::to_string(shard_) + "-" + std::to_string(generation);
}

std::string ShardStateMachine::CheckpointPrefix() const {
  return base_dir_ + "/shard-" + std::to_string(shard_) + ".checkpoint-";
}

std::string ShardStateMachine::CurrentFile() const {
  return base_dir_ + "/shard-" + std::to_string(shard_) + ".CURRENT";
}

Status ShardStateMachine::WriteCurrent(uint64_t generation) {
  const std::string tmp = CurrentFile() + ".tmp";
  DKV_RETURN_IF_ERROR(storage::WriteStringToFile(env_, std::to_string(generation), tmp, true));
  DKV_RETURN_IF_ERROR(env_->RenameFile(tmp, CurrentFile()));
  return env_->SyncDir(base_dir_);
}

Result<std::unique_ptr<ShardStateMachine>> ShardStateMachine::Open(storage::Env* env,
                                                                   const std::string& base_dir,
                                                                   ShardId shard) {
  std::unique_ptr<ShardStateMachine> sm(new ShardStateMachine(env, base_dir, shard));
  uint64_t generation = 1;
  bool fresh = true;
  Result<std::string> current = storage::ReadFileToString(env, sm->CurrentFile());
  if (current.ok()) {
    std::string_view s = *current;
    uint64_t g = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return Status::Corruption(sm->CurrentFile(), "not a number");
      g = g * 10 + static_cast<uint64_t>(c - '0');
    }
    if (g == 0) return Status::Corruption(sm->CurrentFile(), "generation 0");
    generation = g;
    fresh = false;
  }
  // Checkpoints are a running process's snapshots being sent: any found now
  // are a crash's leftovers.
  if (Result<std::vector<std::string>> children = env->GetChildren(base_dir); children.ok()) {
    const std::string prefix = sm->CheckpointPrefix().substr(base_dir.size() + 1);
    for (const std::string& name : *children) {
      // (".checkpoint" without a number: the name before snapshots streamed)
      if (name.starts_with(prefix) || name + "-" == prefix) {
        RemoveDirAndFiles(env, base_dir + "/" + name);
      }
    }
  }
  DKV_RETURN_IF_ERROR(sm->OpenGeneration(generation, /*create=*/fresh));
  if (fresh) DKV_RETURN_IF_ERROR(sm->WriteCurrent(generation));
  return sm;
}

Status ShardStateMachine::OpenGeneration(uint64_t generation, bool create) {
  storage::Options options;
  options.env = env_;
  options.create_if_missing = create;
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<storage::DB> db,
                       storage::DB::Open(options, GenerationDir(generation)));
  std::string v;
  Status st = db->Get(storage::ReadOptions(), kAppliedKey, &v);
  AppliedState applied;
  if (st.ok()) {
    DKV_ASSIGN_OR_RETURN(applied, DecodeAppliedState(v));
  } else if (!st.IsNotFound()) {
    return st;
  }
  db_ = std::move(db);
  applied_ = applied;
  generation_ = generation;
  return Status::OK();
}

void ShardStateMachine::ApplyWrite(const ShardCommand& cmd, storage::WriteBatch* batch) {
  for (const WriteOp& op : cmd.ops) {
    batch->Put(MvccKey(op.key, cmd.ts), EncodeValue(op.type == OpType::kDelete, op.value));
  }
}

Result<std::string> ShardStateMachine::ApplyEval(const ShardCommand& cmd,
                                                 storage::WriteBatch* batch) {
  const EvalOp& op = cmd.eval;
  // The newest version strictly older than the entry (a replay must not see
  // its own earlier write), judged live or expired at the entry's time.
  DKV_ASSIGN_OR_RETURN(ReadResult cur, Get(op.key, PreviousTimestamp(cmd.ts)));
  if (cur.found && ExpiredAt(cur.expire_at_ms, cmd.ts)) cur = ReadResult{};
  std::optional<EvalCurrent> current;
  if (cur.found) current = EvalCurrent{std::move(cur.value), cur.expire_at_ms};
  const int64_t now_ms = cmd.ts.wall_time_us / 1000;  // commit timestamps are > 0
  // Other keys (multi-key ops) are read the same way; a failed read fails
  // the apply (as any engine error does), never guesses.
  Status lookup_status;
  const Timestamp before = PreviousTimestamp(cmd.ts);
  EvalLookup lookup = [&](const std::string& key) -> std::optional<EvalCurrent> {
    Result<ReadResult> r = Get(key, before);
    if (!r.ok()) {
      if (lookup_status.ok()) lookup_status = r.status();
      return std::nullopt;
    }
    if (!r->found || ExpiredAt(r->expire_at_ms, cmd.ts)) return std::nullopt;
    return EvalCurrent{std::move(r->value), r->expire_at_ms};
  };
  EvalOutcome out = EvaluateEval(op, current, now_ms, lookup);
  DKV_RETURN_IF_ERROR(lookup_status);
  switch (out.write) {
    case EvalOutcome::Write::kNone:
      break;
    case EvalOutcome::Write::kPut:
      batch->Put(MvccKey(op.key, cmd.ts), EncodeMvccValue(false, out.expire_at_ms, out.value));
      break;
    case EvalOutcome::Write::kDelete:
      batch->Put(MvccKey(op.key, cmd.ts), EncodeValue(true, {}));
      break;
  }
  for (const EvalKeyWrite& w : out.more) {
    batch->Put(MvccKey(w.key, cmd.ts), EncodeMvccValue(w.tombstone, w.expire_at_ms, w.value));
  }
  return EncodeEvalResult(out.result);
}

Status ShardStateMachine::ScanKeys(std::string_view after, size_t limit, const Timestamp& now,
                                   std::vector<std::string>* keys, std::string* next) {
  DKV_ASSERT(limit >= 1);
  keys->clear();
  next->clear();
  // Past every version of a key: its prefix then more 0xFF bytes than a
  // timestamp has (the next key's prefix differs before that).
  auto past = [](std::string_view user_key) {
    return MvccKeyPrefix(user_key) + std::string(Timestamp::kEncodedSize + 1, '\xff');
  };
  storage::ReadOptions ro;
  ro.fill_cache = false;
  const std::string end(1, static_cast<char>(kDataPrefix + 1));
  ro.iterate_upper_bound = end;
  std::unique_ptr<storage::Iterator> it = db_->NewIterator(ro);
  it->Seek(after.empty() ? std::string(1, kDataPrefix) : past(after));
  size_t examined = 0;
  while (it->Valid()) {
    if (keys->size() >= limit || examined >= kMaxScanVersions) {
      DKV_ASSERT(!next->empty());  // at least one key was examined
      return Status::OK();
    }
    std::string user_key;
    Timestamp ts;
    DKV_RETURN_IF_ERROR(ParseMvccKey(it->key(), &user_key, &ts));
    examined++;
    bool tombstone;
    int64_t expire_at_ms;
    std::string_view value;
    DKV_RETURN_IF_ERROR(DecodeMvccValue(it->value(), &tombstone, &expire_at_ms, &value));
    // The first version of a key is its newest (reads of the latest).
    if (!tombstone && !ExpiredAt(expire_at_ms, now)) keys->push_back(user_key);
    *next = user_key;
    it->Seek(past(user_key));
  }
  DKV_RETURN_IF_ERROR(it->status());
  next->clear();
  return Status::OK();
}

std::string ShardStateMachine::TakeEvalResult(uint64_t index) {
  auto it = eval_results_.find(index);
  if (it == eval_results_.end()) return {};
  std::string r = std::move(it->second);
  eval_results_.erase(it);
  return r;
}

Status ShardStateMachine::Apply(const std::vector<raft::Entry>& entries) {
  eval_results_.clear();
  storage::WriteBatch batch;
  AppliedState next = applied_;
  storage::WriteOptions wo;
  wo.sync = false;
  for (const raft::Entry& e : entries) {
    if (e.index <= next.index) continue;  // replayed after a restart
    DKV_ASSERT(e.index == next.index + 1);
    if (e.type == raft::EntryType::kConfChange) {
      Result<raft::ConfChange> cc = raft::DecodeConfChange(e.data);
      if (cc.ok()) next.conf = raft::ApplyConfChange(next.conf, *cc);
    } else if (!e.data.empty()) {  // empty: a new leader's no-op
      Result<ShardCommand> cmd = DecodeShardCommand(e.data);
      if (!cmd.ok()) {
        bad_commands_++;
      } else if (cmd->type == CommandType::kWrite || cmd->type == CommandType::kEval) {
        // Timestamps follow log order on every replica, whatever the leader's
        // clock did, and stay above the GC safe point (history above it is whole).
        cmd->ts =
            std::max({cmd->ts, NextTimestamp(next.max_ts), NextTimestamp(next.gc_safe_point)});
        if (cmd->type == CommandType::kEval && batch.Count() > 0) {
          // The eval reads the engine: write what came before it first, with
          // the applied state it stands at (as GC does below), so a crash
          // replays from this entry on an engine holding exactly its past.
          batch.Put(kAppliedKey, EncodeAppliedState(next));
          DKV_RETURN_IF_ERROR(db_->Write(wo, batch));
          batch.Clear();
          applied_ = next;
        }
        next.max_ts = cmd->ts;
        if (cmd->type == CommandType::kWrite) {
          ApplyWrite(*cmd, &batch);
        } else {
          DKV_ASSIGN_OR_RETURN(eval_results_[e.index], ApplyEval(*cmd, &batch));
        }
      } else {
        // GC reads the engine: write what came before it first.
        batch.Put(kAppliedKey, EncodeAppliedState(next));
        DKV_RETURN_IF_ERROR(db_->Write(wo, batch));
        batch.Clear();
        applied_ = next;
        DKV_RETURN_IF_ERROR(GcStep(cmd->safe_point, &next, &batch).status());
      }
    }
    next.index = e.index;
    next.term = e.term;
  }
  if (next == applied_) return Status::OK();
  batch.Put(kAppliedKey, EncodeAppliedState(next));
  DKV_RETURN_IF_ERROR(db_->Write(wo, batch));
  applied_ = next;
  return Status::OK();
}

Result<ReadResult> ShardStateMachine::Get(std::string_view key, std::optional<Timestamp> at,
                                          std::optional<Timestamp> now) {
  if (at.has_value() && *at < applied_.gc_safe_point) {
    return Status::InvalidArgument("shard " + std::to_string(shard_),
                                   "read at " + at->ToString() + " below the GC safe point " +
                                       applied_.gc_safe_point.ToString());
  }
  const std::string prefix = MvccKeyPrefix(key);
  storage::ReadOptions ro;
  std::unique_ptr<storage::Iterator> it = db_->NewIterator(ro);
  it->Seek(MvccKey(key, at.value_or(kMaxTimestamp)));
  ReadResult r;
  if (!it->Valid()) {
    DKV_RETURN_IF_ERROR(it->status());
    return r;
  }
  std::string_view k = it->key();
  if (k.size() != prefix.size() + Timestamp::kEncodedSize || !k.starts_with(prefix)) return r;
  std::string user_key;
  DKV_RETURN_IF_ERROR(ParseMvccKey(k, &user_key, &r.ts));
  bool tombstone;
  std::string_view value;
  DKV_RETURN_IF_ERROR(DecodeMvccValue(it->value(), &tombstone, &r.expire_at_ms, &value));
  if (tombstone) return ReadResult{};
  const Timestamp when = at.has_value() ? *at : now.value_or(applied_.max_ts);
  if (ExpiredAt(r.expire_at_ms, when)) return ReadResult{};
  r.found = true;
  r.value.assign(value);
  return r;
}

void ShardStateMachine::set_gc_versions_per_step(size_t n) {
  DKV_ASSERT(n >= 1);
  gc_versions_per_step_ = n;
}

Result<uint64_t> ShardStateMachine::GcStep(const Timestamp& point, AppliedState* next,
                                           storage::WriteBatch* batch) {
  if (next->gc_cursor.empty()) {
    // A command at or below the last pass's point is a duplicate or a stale
    // leader's: starting a pass for it would rescan the shard for nothing.
    if (point <= next->gc_safe_point) return 0;
    // From now on some history below `point` may be gone: reads below it are
    // refused at once, not when the pass ends.
    next->gc_safe_point = point;
    next->gc_cursor = std::string(1, kDataPrefix);
    next->gc_cursor_kept = false;
  }
  // A command arriving while a pass runs continues that pass at its own point
  // (its `point` is not used): the leader proposes the newer point again later.
  const Timestamp pass_point = next->gc_safe_point;
  std::string resumed_key;  // the cursor's user key when it resumes inside a key
  if (next->gc_cursor_kept) {
    Timestamp unused;
    DKV_RETURN_IF_ERROR(ParseMvccKey(next->gc_cursor, &resumed_key, &unused));
  }
  storage::ReadOptions ro;
  ro.fill_cache = false;
  const std::string end(1, static_cast<char>(kDataPrefix + 1));
  ro.iterate_upper_bound = end;
  std::unique_ptr<storage::Iterator> it = db_->NewIterator(ro);
  uint64_t dropped = 0;
  size_t examined = 0;
  bool first = true;
  std::string current;  // user key being scanned
  bool kept = false;    // `current` kept its newest version <= pass_point
  // The newest visible version of `current` is a tombstone: it is deleted only
  // together with (in the same batch as) every older version, never before
  // them, or a read could see an older version come back. A step that stops
  // inside the key leaves it for the next pass.
  std::string pending_tombstone;
  std::string resume;  // empty: the pass reached the end of the shard
  bool resume_kept = false;
  for (it->Seek(next->gc_cursor); it->Valid(); it->Next()) {
    std::string user_key;
    Timestamp ts;
    DKV_RETURN_IF_ERROR(ParseMvccKey(it->key(), &user_key, &ts));
    if (first || user_key != current) {
      if (!pending_tombstone.empty()) {
        batch->Delete(pending_tombstone);
        dropped++;
        pending_tombstone.clear();
      }
      kept = first && next->gc_cursor_kept && user_key == resumed_key;
      current = std::move(user_key);
      if (examined >= gc_versions_per_step_) {
        resume.assign(it->key());
        resume_kept = kept;
        break;
      }
    } else if (examined >= gc_versions_per_step_) {
      resume.assign(it->key());
      resume_kept = kept;
      pending_tombstone.clear();  // older versions remain: keep the tombstone
      break;
    }
    first = false;
    examined++;
    if (ts > pass_point) continue;  // still visible to reads above the point
    if (kept) {
      batch->Delete(it->key());
      dropped++;
      continue;
    }
    kept = true;
    bool tombstone;
    int64_t expire_at_ms;
    std::string_view value;
    DKV_RETURN_IF_ERROR(DecodeMvccValue(it->value(), &tombstone, &expire_at_ms, &value));
    // A version expired at the point is absent to every read at or above it,
    // as a tombstone is: it goes the same way.
    if (tombstone || ExpiredAt(expire_at_ms, pass_point)) {
      pending_tombstone.assign(it->key());  // nothing older needs hiding
    }
  }
  DKV_RETURN_IF_ERROR(it->status());
  if (resume.empty() && !pending_tombstone.empty()) {
    batch->Delete(pending_tombstone);
    dropped++;
  }
  DKV_ASSERT(examined <= gc_versions_per_step_);
  DKV_ASSERT(dropped <= examined);
  next->gc_cursor = std::move(resume);
  next->gc_cursor_kept = resume_kept && !next->gc_cursor.empty();
  return dropped;
}

Result<uint64_t> ShardStateMachine::GarbageCollect(const Timestamp& safe_point) {
  storage::WriteOptions wo;
  wo.sync = false;
  uint64_t dropped = 0;
  // Ends: every step moves the cursor forward through a finite shard, and at
  // most two passes run (one in progress, then the one at safe_point).
  for (;;) {
    AppliedState next = applied_;
    storage::WriteBatch batch;
    DKV_ASSIGN_OR_RETURN(uint64_t n, GcStep(safe_point, &next, &batch));
    dropped += n;
    if (next != applied_) {
      batch.Put(kAppliedKey, EncodeAppliedState(next));
      DKV_RETURN_IF_ERROR(db_->Write(wo, batch));
      applied_ = next;
    }
    if (applied_.gc_cursor.empty() && safe_point <= applied_.gc_safe_point) break;
  }
  return dropped;
}

Status ShardStateMachine::Sync() { return db_->SyncWal(); }

Status ShardStateMachine::Destroy() {
  receiver_.Abort();  // a snapshot half received goes too
  db_.reset();
  storage::Options options;
  options.env = env_;
  DKV_RETURN_IF_ERROR(storage::DestroyDB(GenerationDir(generation_), options));
  Status st = env_->RemoveFile(CurrentFile());
  if (!st.ok() && !st.IsNotFound()) return st;
  return env_->SyncDir(base_dir_);
}

// Raft's snapshot sink for this replica: the receiver, writing into the next
// generation's directory. A finished snapshot waits for its install (the next
// round); a new stream meanwhile is refused rather than allowed to delete it.
class ShardStateMachine::Sink final : public raft::SnapshotSink {
 public:
  explicit Sink(ShardStateMachine* sm) : sm_(sm) {}
  Status Begin(const raft::SnapshotMetadata&) override {
    if (sm_->receiver_.finished()) {
      refused_ = true;  // raft calls Abort next: keep the finished one
      return Status::Busy("shard snapshot", "a received snapshot waits for its install");
    }
    return sm_->receiver_.Begin(sm_->GenerationDir(sm_->generation_ + 1));
  }
  Status Append(std::string_view chunk) override { return sm_->receiver_.Append(chunk); }
  Status Finish() override { return sm_->receiver_.Finish(); }
  void Abort() override {
    if (refused_) {
      refused_ = false;
      return;
    }
    sm_->receiver_.Abort();
  }

 private:
  ShardStateMachine* const sm_;
  bool refused_ = false;
};

raft::SnapshotSink* ShardStateMachine::snapshot_sink() {
  if (!sink_) sink_ = std::make_unique<Sink>(this);
  return sink_.get();
}

Result<std::shared_ptr<const raft::SnapshotSource>> ShardStateMachine::CreateSnapshotSource() {
  // A directory per snapshot: raft may still stream an older one.
  const std::string dir = CheckpointPrefix() + std::to_string(++checkpoint_seq_);
  RemoveDirAndFiles(env_, dir);
  if (Status st = db_->CreateCheckpoint(dir); !st.ok()) {
    RemoveDirAndFiles(env_, dir);
    return st;
  }
  DKV_ASSIGN_OR_RETURN(std::shared_ptr<SnapshotFileSource> src,
                       SnapshotFileSource::Create(env_, dir));
  return std::shared_ptr<const raft::SnapshotSource>(std::move(src));
}

Result<std::string> ShardStateMachine::CreateSnapshot() {
  DKV_ASSIGN_OR_RETURN(std::shared_ptr<const raft::SnapshotSource> src, CreateSnapshotSource());
  std::string out;
  DKV_RETURN_IF_ERROR(src->Read(0, src->Size(), &out));
  return out;
}

Status ShardStateMachine::RestoreSnapshot(std::string_view data) {
  raft::SnapshotSink* sink = snapshot_sink();
  Status st = sink->Begin(raft::SnapshotMetadata{});
  // Chunks as Raft would deliver them, so tests go through the streaming path.
  for (size_t at = 0; st.ok() && at < data.size(); at += kMaxSnapshotChunkBytes) {
    st = sink->Append(data.substr(at, kMaxSnapshotChunkBytes));
  }
  if (st.ok()) st = sink->Finish();
  if (!st.ok()) {
    sink->Abort();
    return st;
  }
  return InstallReceivedSnapshot();
}

Status ShardStateMachine::InstallReceivedSnapshot() {
  if (!receiver_.finished()) {
    return Status::InvalidArgument("shard " + std::to_string(shard_), "no received snapshot");
  }
  const uint64_t old_generation = generation_;
  const uint64_t generation = generation_ + 1;
  const std::string dir = GenerationDir(generation);
  DKV_ASSERT(receiver_.dir() == dir);
  // The receiver synced every file and the directory; make its entry durable.
  DKV_RETURN_IF_ERROR(env_->SyncDir(base_dir_));
  // Open the new engine before switching to it: a snapshot that does not open
  // leaves the old engine in place.
  std::unique_ptr<storage::DB> old_db = std::move(db_);
  const AppliedState old_applied = applied_;
  Status st = OpenGeneration(generation, /*create=*/false);
  if (!st.ok()) {
    db_ = std::move(old_db);
    applied_ = old_applied;
    generation_ = old_generation;
    receiver_.Abort();
    return Status::Corruption("shard snapshot", "does not open: " + st.ToString());
  }
  receiver_.Release();  // the directory is the live engine's now
  DKV_RETURN_IF_ERROR(WriteCurrent(generation));
  storage::Options options;
  options.env = env_;
  old_db.reset();
  storage::DestroyDB(GenerationDir(old_generation), options).IgnoreError();
  return Status::OK();
}

}  // namespace dkv::node

#include "server/keyspace.h"

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "server/limits.h"

namespace dkv::server {

std::string EncodeStoredValue(ValueType type, int64_t expire_at_ms, std::string_view payload) {
  std::string out;
  out.reserve(kValueHeaderSize + payload.size());
  out.push_back(static_cast<char>(type));
  PutFixed64(&out, static_cast<uint64_t>(expire_at_ms));
  out.append(payload);
  return out;
}

void EncodeStoredValueTo(std::string* out, ValueType type, int64_t expire_at_ms,
                         std::string_view payload) {
  out->clear();
  out->reserve(kValueHeaderSize + payload.size());
  out->push_back(static_cast<char>(type));
  PutFixed64(out, static_cast<uint64_t>(expire_at_ms));
  out->append(payload);
}

std::string EncodeStoredValue(const StoredValue& v) {
  return EncodeStoredValue(v.type, v.expire_at_ms, v.payload);
}

Status DecodeStoredValue(std::string_view bytes, StoredValue* v) {
  if (bytes.size() < kValueHeaderSize) {
    return Status::Corruption("keyspace value", "shorter than its 9-byte header");
  }
  uint8_t type = static_cast<uint8_t>(bytes[0]);
  if (type != static_cast<uint8_t>(ValueType::kString)) {
    return Status::Corruption("keyspace value", "unknown type " + std::to_string(type));
  }
  v->type = static_cast<ValueType>(type);
  v->expire_at_ms = static_cast<int64_t>(DecodeFixed64(bytes.data() + 1));
  v->payload.assign(bytes.data() + kValueHeaderSize, bytes.size() - kValueHeaderSize);
  return Status::OK();
}

Status Keyspace::EngineGet(const std::string& engine_key, std::string* value) {
  if (batch_depth_ > 0) {
    auto it = overlay_.find(engine_key);
    if (it != overlay_.end()) {
      if (!it->second) return Status::NotFound("keyspace batch", "deleted");
      *value = *it->second;
      return Status::OK();
    }
  }
  return engine_->Get(engine_key, value);
}

Status Keyspace::EngineApply(std::vector<KvWrite>&& writes) {
  if (batch_depth_ == 0) return engine_->ApplyMoved(std::move(writes));
  for (const KvWrite& w : writes) {
    if (w.is_delete) {
      overlay_[w.key] = std::nullopt;
    } else {
      overlay_[w.key] = w.value;
    }
    pending_.push_back(w);
  }
  return Status::OK();
}

Status Keyspace::EnginePut(std::string_view engine_key, std::string_view value) {
  if (batch_depth_ == 0) return engine_->Put(engine_key, value);
  std::vector<KvWrite> w(1);
  w[0].key = std::string(engine_key);
  w[0].value = std::string(value);
  return EngineApply(std::move(w));
}

Status Keyspace::EngineDelete(std::string_view engine_key) {
  if (batch_depth_ == 0) return engine_->Delete(engine_key);
  std::vector<KvWrite> w(1);
  w[0].key = std::string(engine_key);
  w[0].is_delete = true;
  return EngineApply(std::move(w));
}

const std::string& Keyspace::ScratchEngineKey(std::string_view key) {
  key_scratch_.clear();
  key_scratch_.push_back(kKeyPrefix);
  key_scratch_.append(key);
  return key_scratch_;
}

void Keyspace::BeginBatch() { batch_depth_++; }

Status Keyspace::CommitBatch() {
  DKV_ASSERT(batch_depth_ > 0);
  batch_depth_--;
  if (batch_depth_ > 0) return Status::OK();
  Status s = FlushBatch();
  if (!s.ok()) cache_.Clear();  // it saw the batch's writes, the engine did not
  return s;
}

Status Keyspace::FlushBatch() {
  if (pending_.empty()) return Status::OK();
  std::vector<KvWrite> writes;
  writes.swap(pending_);
  overlay_.clear();
  return engine_->ApplyMoved(std::move(writes));
}

std::string Keyspace::EngineKey(std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(kKeyPrefix);
  k.append(key);
  return k;
}

Status Keyspace::Load() {
  expires_.clear();
  by_time_.clear();
  key_hashes_.Clear();
  cache_.Clear();
  std::string start(1, kKeyPrefix);
  const std::string limit(1, static_cast<char>(kKeyPrefix + 1));
  while (true) {
    std::vector<std::pair<std::string, std::string>> batch;
    DKV_RETURN_IF_ERROR(engine_->Scan(start, limit, 1024, &batch));
    for (auto& [k, v] : batch) {
      StoredValue sv;
      DKV_RETURN_IF_ERROR(DecodeStoredValue(v, &sv).WithContext("key load"));
      key_hashes_.Insert(Hash64(std::string_view(k).substr(1)));
      if (sv.expire_at_ms != 0) IndexExpiry(k.substr(1), sv.expire_at_ms);
    }
    if (batch.size() < 1024) break;
    start = batch.back().first;
    start.push_back('\0');
  }
  return Status::OK();
}

void Keyspace::IndexExpiry(std::string_view key_view, int64_t expire_at_ms) {
  if (expire_at_ms == 0 && expires_.empty()) return;  // the common case: no TTLs
  const std::string key(key_view);
  auto it = expires_.find(key);
  if (it != expires_.end()) {
    by_time_.erase({it->second, key});
    if (expire_at_ms == 0) {
      expires_.erase(it);
      return;
    }
    it->second = expire_at_ms;
  } else {
    if (expire_at_ms == 0) return;
    expires_.emplace(key, expire_at_ms);
  }
  by_time_.insert({expire_at_ms, key});
  DKV_DASSERT(by_time_.size() == expires_.size());
}

void Keyspace::Changed(std::string_view key) {
  dirty_++;
  if (on_change_) on_change_(key);
}

Status Keyspace::DeleteExpired(const std::string& key) {
  DKV_RETURN_IF_ERROR(EngineDelete(ScratchEngineKey(key)));
  IndexExpiry(key, 0);
  const uint64_t h = Hash64(key);
  key_hashes_.Erase(h);
  cache_.Erase(h, key);
  expired_keys_++;
  Changed(key);
  return Status::OK();
}

Result<std::optional<Keyspace::ValueView>> Keyspace::LookupView(std::string_view key) {
  const uint64_t h = Hash64(key);
  // The cache first (it holds only stored keys); inside a batch the held
  // writes (overlay) come first, so skip it there.
  if (batch_depth_ == 0) {
    std::optional<ValueCache::View> c = cache_.Find(h, key);
    if (c) {
      cache_hits_++;
    } else {
      cache_misses_++;
    }
    if (c) {
      if (c->expire_at_ms != 0 && c->expire_at_ms <= NowMs()) {
        DKV_RETURN_IF_ERROR(DeleteExpired(std::string(key)));
        misses_++;
        return std::optional<ValueView>();
      }
      hits_++;
      return std::optional<ValueView>(ValueView{c->type, c->expire_at_ms, c->payload});
    }
  }
  if (!key_hashes_.Contains(h)) {
    misses_++;  // no stored key has this hash: absent without an engine read
    return std::optional<ValueView>();
  }
  std::string raw;
  Status s = EngineGet(EngineKey(key), &raw);
  if (s.IsNotFound()) {
    misses_++;
    return std::optional<ValueView>();
  }
  DKV_RETURN_IF_ERROR(s);
  DKV_RETURN_IF_ERROR(DecodeStoredValue(raw, &scratch_).WithContext("key"));
  if (scratch_.expire_at_ms != 0 && scratch_.expire_at_ms <= NowMs()) {
    DKV_RETURN_IF_ERROR(DeleteExpired(std::string(key)));
    misses_++;
    return std::optional<ValueView>();
  }
  hits_++;
  if (batch_depth_ == 0) cache_.Insert(h, key, scratch_);
  return std::optional<ValueView>(
      ValueView{scratch_.type, scratch_.expire_at_ms, scratch_.payload});
}

Result<std::optional<StoredValue>> Keyspace::Lookup(std::string_view key) {
  DKV_ASSIGN_OR_RETURN(std::optional<ValueView> view, LookupView(key));
  if (!view) return std::optional<StoredValue>();
  std::optional<StoredValue> v(std::in_place);
  v->type = view->type;
  v->expire_at_ms = view->expire_at_ms;
  v->payload.assign(view->payload);
  return v;
}

Status Keyspace::Set(std::string_view key, const StoredValue& value) {
  return SetParts(key, value.type, value.expire_at_ms, value.payload);
}

Status Keyspace::SetString(std::string_view key, std::string_view payload, int64_t expire_at_ms) {
  return SetParts(key, ValueType::kString, expire_at_ms, payload);
}

Status Keyspace::SetParts(std::string_view key, ValueType type, int64_t expire_at_ms,
                          std::string_view payload) {
  // Both encodings go to reused buffers; a staging engine copies them once,
  // into the batch it will write.
  EncodeStoredValueTo(&value_scratch_, type, expire_at_ms, payload);
  DKV_RETURN_IF_ERROR(EnginePut(ScratchEngineKey(key), value_scratch_));
  const uint64_t h = Hash64(key);
  key_hashes_.Insert(h);
  cache_.Insert(h, key, type, expire_at_ms, payload);  // write-through: the next GET is a hit
  IndexExpiry(key, expire_at_ms);
  Changed(key);
  return Status::OK();
}

Status Keyspace::SetMany(const std::vector<std::pair<std::string, StoredValue>>& kvs) {
  std::vector<KvWrite> w;
  w.reserve(kvs.size());
  for (const auto& [k, v] : kvs) {
    KvWrite kw;
    kw.key = EngineKey(k);
    kw.value = EncodeStoredValue(v);
    w.push_back(std::move(kw));
  }
  DKV_RETURN_IF_ERROR(EngineApply(std::move(w)));
  for (const auto& [k, v] : kvs) {
    const uint64_t h = Hash64(k);
    key_hashes_.Insert(h);
    cache_.Insert(h, k, v);
    IndexExpiry(k, v.expire_at_ms);
    Changed(k);
  }
  return Status::OK();
}

Status Keyspace::Delete(std::string_view key, bool* existed) {
  DKV_ASSIGN_OR_RETURN(std::optional<StoredValue> v, Lookup(key));
  *existed = v.has_value();
  if (!v) return Status::OK();
  DKV_RETURN_IF_ERROR(EngineDelete(ScratchEngineKey(key)));
  IndexExpiry(key, 0);
  const uint64_t h = Hash64(key);
  key_hashes_.Erase(h);
  cache_.Erase(h, key);
  Changed(key);
  return Status::OK();
}

Status Keyspace::Clear(int64_t* count) {
  *count = 0;
  const std::string limit(1, static_cast<char>(kKeyPrefix + 1));
  std::string start(1, kKeyPrefix);
  while (true) {
    std::vector<std::pair<std::string, std::string>> batch;
    DKV_RETURN_IF_ERROR(FlushBatch());
    DKV_RETURN_IF_ERROR(engine_->Scan(start, limit, kFlushBatchKeys, &batch));
    if (batch.empty()) break;
    std::vector<KvWrite> w(batch.size());
    for (size_t i = 0; i < batch.size(); i++) {
      w[i].key = batch[i].first;
      w[i].is_delete = true;
    }
    DKV_RETURN_IF_ERROR(EngineApply(std::move(w)));
    for (auto& kv : batch) Changed(std::string_view(kv.first).substr(1));
    *count += static_cast<int64_t>(batch.size());
    start = batch.back().first;
    start.push_back('\0');
  }
  expires_.clear();
  by_time_.clear();
  key_hashes_.Clear();
  cache_.Clear();
  return Status::OK();
}

Status Keyspace::ScanKeys(std::string_view start, size_t count, std::vector<std::string>* keys,
                          std::string* next) {
  const std::string limit(1, static_cast<char>(kKeyPrefix + 1));
  std::vector<std::pair<std::string, std::string>> batch;
  DKV_RETURN_IF_ERROR(FlushBatch());
  DKV_RETURN_IF_ERROR(engine_->Scan(EngineKey(start), limit, count, &batch));
  int64_t now = NowMs();
  for (auto& [k, v] : batch) {
    StoredValue sv;
    DKV_RETURN_IF_ERROR(DecodeStoredValue(v, &sv).WithContext("scan"));
    if (sv.expire_at_ms != 0 && sv.expire_at_ms <= now) continue;
    keys->push_back(k.substr(1));
  }
  next->clear();
  if (batch.size() == count && count > 0) {
    *next = batch.back().first.substr(1);
    next->push_back('\0');
  }
  return Status::OK();
}

bool Keyspace::IsExpired(std::string_view key) const {
  if (expires_.empty()) return false;
  auto it = expires_.find(std::string(key));
  return it != expires_.end() && it->second <= NowMs();
}

Result<int> Keyspace::ActiveExpireCycle(int max_keys) {
  DKV_ASSERT(max_keys > 0);
  int64_t now = NowMs();
  int deleted = 0;
  while (deleted < max_keys && !by_time_.empty() && by_time_.begin()->first <= now) {
    std::string key = by_time_.begin()->second;
    DKV_RETURN_IF_ERROR(DeleteExpired(key));
    deleted++;
  }
  return deleted;
}

}  // namespace dkv::server

namespace dkv::server {

uint64_t Keyspace::SaveScanCursor(std::string resume_key) {
  uint64_t id = next_scan_cursor_++;
  scan_cursors_.emplace(id, std::move(resume_key));
  while (scan_cursors_.size() > kMaxScanCursors) scan_cursors_.erase(scan_cursors_.begin());
  return id;
}

bool Keyspace::FindScanCursor(uint64_t cursor, std::string* resume_key) const {
  auto it = scan_cursors_.find(cursor);
  if (it == scan_cursors_.end()) return false;
  *resume_key = it->second;
  return true;
}

}  // namespace dkv::server

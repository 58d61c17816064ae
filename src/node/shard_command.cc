#include "node/shard_command.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/assert.h"
#include "common/coding.h"
#include "node/limits.h"

namespace dkv::node {

namespace {
Status Bad(std::string_view what) { return Status::Corruption("shard command", what); }

Status CheckOp(const WriteOp& op) {
  if (op.type != OpType::kPut && op.type != OpType::kDelete) {
    return Status::InvalidArgument("shard command", "unknown op");
  }
  if (op.key.empty()) return Status::InvalidArgument("shard command", "empty key");
  if (op.key.size() > kMaxKeyBytes)
    return Status::InvalidArgument("shard command", "key too large");
  if (op.value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("shard command", "value too large");
  }
  if (op.type == OpType::kDelete && !op.value.empty()) {
    return Status::InvalidArgument("shard command", "delete with a value");
  }
  return Status::OK();
}

// An eval op's shape: which fields its type uses, which flags and expiry
// modes it takes. Every field an op does not use must be zero/empty, so one
// command has one encoding.
Status CheckEval(const EvalOp& op) {
  auto bad = [](std::string_view what) { return Status::InvalidArgument("eval op", what); };
  const uint8_t t = static_cast<uint8_t>(op.type);
  if (t < 1 || t > kMaxEvalOpType) return bad("unknown op");
  if (op.key.empty()) return bad("empty key");
  if (op.key.size() > kMaxKeyBytes) return bad("key too large");
  if (op.value.size() > kMaxValueBytes) return bad("value too large");
  const uint8_t mode = static_cast<uint8_t>(op.expiry_mode);
  if (mode > static_cast<uint8_t>(ExpiryMode::kPersist)) return bad("unknown expiry mode");
  const bool timed =
      op.expiry_mode == ExpiryMode::kRelativeMs || op.expiry_mode == ExpiryMode::kAbsoluteMs;
  if (!timed && op.expiry_ms != 0) return bad("expiry time without a mode");
  const bool uses_value = op.type == EvalOpType::kSet || op.type == EvalOpType::kAppend ||
                          op.type == EvalOpType::kIncrByFloat || op.type == EvalOpType::kMSetNx ||
                          op.type == EvalOpType::kRename;
  if (!uses_value && !op.value.empty()) return bad("value on an op without one");
  if (op.type != EvalOpType::kIncrBy && op.integer != 0) return bad("integer on an op without one");
  const bool uses_flags = op.type == EvalOpType::kSet || op.type == EvalOpType::kExpire ||
                          op.type == EvalOpType::kRename;
  if (!uses_flags && op.flags != 0) return bad("flags on an op without them");
  if (op.flags & ~0x0F) return bad("unknown flags");
  switch (op.type) {
    case EvalOpType::kSet:
      if ((op.flags & kSetNx) && (op.flags & kSetXx)) return bad("NX with XX");
      if (op.expiry_mode == ExpiryMode::kPersist) return bad("SET with PERSIST");
      if ((op.flags & kSetKeepTtl) && op.expiry_mode != ExpiryMode::kNone)
        return bad("KEEPTTL with an expiry");
      if (timed && op.expiry_ms <= 0) return bad("non-positive expiry");
      break;
    case EvalOpType::kGetEx:
      if (timed && op.expiry_ms <= 0) return bad("non-positive expiry");
      break;
    case EvalOpType::kExpire:
      if (!timed) return bad("EXPIRE without a time");
      if ((op.flags & kExpireNx) && (op.flags & (kExpireXx | kExpireGt | kExpireLt)))
        return bad("NX with XX, GT or LT");
      if ((op.flags & kExpireGt) && (op.flags & kExpireLt)) return bad("GT with LT");
      break;
    case EvalOpType::kMSetNx: {
      std::vector<std::pair<std::string, std::string>> pairs;
      if (!DecodeKeyValuePairs(op.value, &pairs) || pairs[0].first != op.key)
        return bad("MSETNX pairs malformed");
      for (const auto& [k, v] : pairs) {
        if (k.size() > kMaxKeyBytes) return bad("key too large");
      }
      if (op.expiry_mode != ExpiryMode::kNone) return bad("expiry on MSETNX");
      break;
    }
    case EvalOpType::kRename:
      if (op.value.empty() || op.value.size() > kMaxKeyBytes) return bad("bad new name");
      if (op.flags & ~kRenameNx) return bad("unknown RENAME flags");
      if (op.expiry_mode != ExpiryMode::kNone) return bad("expiry on RENAME");
      break;
    case EvalOpType::kIncrByFloat:
      if (op.value.empty()) return bad("empty increment");
      [[fallthrough]];
    default:
      if (op.expiry_mode != ExpiryMode::kNone) return bad("expiry on an op without one");
  }
  return Status::OK();
}

void PutInt64(std::string* dst, int64_t v) { PutFixed64(dst, static_cast<uint64_t>(v)); }

bool GetInt64(std::string_view* in, int64_t* v) {
  uint64_t u;
  if (!GetFixed64(in, &u)) return false;
  *v = static_cast<int64_t>(u);
  return true;
}

bool GetTimestamp(std::string_view* in, Timestamp* ts) {
  if (in->size() < Timestamp::kEncodedSize) return false;
  Result<Timestamp> r = Timestamp::Decode(in->substr(0, Timestamp::kEncodedSize));
  if (!r.ok()) return false;
  *ts = *r;
  in->remove_prefix(Timestamp::kEncodedSize);
  return true;
}
}  // namespace

ShardCommand ShardCommand::Put(std::string key, std::string value) {
  return Write({WriteOp{OpType::kPut, std::move(key), std::move(value)}});
}

ShardCommand ShardCommand::Delete(std::string key) {
  return Write({WriteOp{OpType::kDelete, std::move(key), {}}});
}

ShardCommand ShardCommand::Write(std::vector<WriteOp> ops) {
  ShardCommand c;
  c.type = CommandType::kWrite;
  c.ops = std::move(ops);
  return c;
}

ShardCommand ShardCommand::Gc(Timestamp safe_point) {
  ShardCommand c;
  c.type = CommandType::kGc;
  c.safe_point = safe_point;
  return c;
}

ShardCommand ShardCommand::Eval(EvalOp op) {
  ShardCommand c;
  c.type = CommandType::kEval;
  c.eval = std::move(op);
  return c;
}

Status ShardCommand::Validate() const {
  if (type != CommandType::kEval && !(eval == EvalOp{})) {
    return Status::InvalidArgument("shard command", "eval op on another type");
  }
  if (type == CommandType::kGc) {
    if (!ops.empty()) return Status::InvalidArgument("shard command", "gc with ops");
    return Status::OK();
  }
  if (type == CommandType::kEval) {
    if (!ops.empty()) return Status::InvalidArgument("shard command", "eval with ops");
    if (safe_point != Timestamp{})
      return Status::InvalidArgument("shard command", "eval with a safe point");
    return CheckEval(eval);
  }

  if (type != CommandType::kWrite) return Status::InvalidArgument("shard command", "unknown type");
  if (ops.empty()) return Status::InvalidArgument("shard command", "no ops");
  if (ops.size() > kMaxOpsPerCommand)
    return Status::InvalidArgument("shard command", "too many ops");
  for (const WriteOp& op : ops) DKV_RETURN_IF_ERROR(CheckOp(op));
  return Status::OK();
}

std::string EncodeShardCommand(const ShardCommand& cmd) {
  std::string out;
  out.push_back(static_cast<char>(kShardCommandVersion));
  out.push_back(static_cast<char>(cmd.type));
  cmd.ts.EncodeTo(&out);
  if (cmd.type == CommandType::kGc) {
    cmd.safe_point.EncodeTo(&out);
    return out;
  }
  if (cmd.type == CommandType::kEval) {
    const EvalOp& op = cmd.eval;
    out.push_back(static_cast<char>(op.type));
    PutLengthPrefixed(&out, op.key);
    out.push_back(static_cast<char>(op.flags));
    out.push_back(static_cast<char>(op.expiry_mode));
    PutInt64(&out, op.expiry_ms);
    PutInt64(&out, op.integer);
    PutLengthPrefixed(&out, op.value);
    return out;
  }
  PutVarint32(&out, static_cast<uint32_t>(cmd.ops.size()));
  for (const WriteOp& op : cmd.ops) {
    out.push_back(static_cast<char>(op.type));
    PutLengthPrefixed(&out, op.key);
    if (op.type == OpType::kPut) PutLengthPrefixed(&out, op.value);
  }
  return out;
}

Result<ShardCommand> DecodeShardCommand(std::string_view in) {
  if (in.size() < 2) return Bad("too short");
  if (static_cast<uint8_t>(in[0]) != kShardCommandVersion) return Bad("unknown version");
  ShardCommand cmd;
  const uint8_t type = static_cast<uint8_t>(in[1]);
  in.remove_prefix(2);
  if (!GetTimestamp(&in, &cmd.ts)) return Bad("bad timestamp");
  if (type == static_cast<uint8_t>(CommandType::kGc)) {
    cmd.type = CommandType::kGc;
    if (!GetTimestamp(&in, &cmd.safe_point)) return Bad("bad safe point");
  } else if (type == static_cast<uint8_t>(CommandType::kEval)) {
    cmd.type = CommandType::kEval;
    EvalOp& op = cmd.eval;
    if (in.empty()) return Bad("truncated eval op");
    op.type = static_cast<EvalOpType>(static_cast<uint8_t>(in[0]));
    in.remove_prefix(1);
    std::string_view key, value;
    if (!GetLengthPrefixed(&in, &key)) return Bad("bad eval key");
    if (in.size() < 2) return Bad("truncated eval op");
    op.flags = static_cast<uint8_t>(in[0]);
    op.expiry_mode = static_cast<ExpiryMode>(static_cast<uint8_t>(in[1]));
    in.remove_prefix(2);
    if (!GetInt64(&in, &op.expiry_ms) || !GetInt64(&in, &op.integer))
      return Bad("truncated eval op");
    if (!GetLengthPrefixed(&in, &value)) return Bad("bad eval value");
    op.key.assign(key);
    op.value.assign(value);
    if (!CheckEval(op).ok()) return Bad("eval op malformed or beyond limits");
  } else if (type == static_cast<uint8_t>(CommandType::kWrite)) {
    cmd.type = CommandType::kWrite;
    uint32_t count;
    if (!GetVarint32(&in, &count)) return Bad("bad op count");
    if (count == 0 || count > kMaxOpsPerCommand) return Bad("op count out of range");
    if (count > in.size() / 2) return Bad("op count beyond the bytes");  // an op takes >= 2 bytes
    cmd.ops.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      if (in.empty()) return Bad("truncated op");
      WriteOp op;
      const uint8_t op_type = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (op_type != static_cast<uint8_t>(OpType::kPut) &&
          op_type != static_cast<uint8_t>(OpType::kDelete)) {
        return Bad("unknown op");
      }
      op.type = static_cast<OpType>(op_type);
      std::string_view key, value;
      if (!GetLengthPrefixed(&in, &key)) return Bad("bad key");
      if (op.type == OpType::kPut && !GetLengthPrefixed(&in, &value)) return Bad("bad value");
      op.key.assign(key);
      op.value.assign(value);
      if (!CheckOp(op).ok()) return Bad("op beyond limits");
      cmd.ops.push_back(std::move(op));
    }
  } else {
    return Bad("unknown type");
  }
  if (!in.empty()) return Bad("trailing bytes");
  return cmd;
}

std::string EncodeKeyValuePairs(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  PutVarint32(&out, static_cast<uint32_t>(pairs.size()));
  for (const auto& [k, v] : pairs) {
    PutLengthPrefixed(&out, k);
    PutLengthPrefixed(&out, v);
  }
  return out;
}

bool DecodeKeyValuePairs(std::string_view in,
                         std::vector<std::pair<std::string, std::string>>* pairs) {
  pairs->clear();
  uint32_t count;
  if (!GetVarint32(&in, &count) || count == 0 || count > kMaxOpsPerCommand) return false;
  if (count > in.size() / 2) return false;  // a pair takes >= 2 bytes
  for (uint32_t i = 0; i < count; i++) {
    std::string_view k, v;
    if (!GetLengthPrefixed(&in, &k) || !GetLengthPrefixed(&in, &v) || k.empty()) return false;
    pairs->emplace_back(std::string(k), std::string(v));
  }
  return in.empty();
}

std::string EncodeEvalResult(const EvalResult& r) {
  std::string out;
  out.push_back(static_cast<char>(r.kind));
  PutInt64(&out, r.integer);
  PutLengthPrefixed(&out, r.text);
  return out;
}

Result<EvalResult> DecodeEvalResult(std::string_view in) {
  const Status bad = Status::Corruption("eval result", "malformed");
  if (in.empty()) return bad;
  EvalResult r;
  const uint8_t kind = static_cast<uint8_t>(in[0]);
  if (kind < 1 || kind > static_cast<uint8_t>(EvalResult::Kind::kError)) return bad;
  r.kind = static_cast<EvalResult::Kind>(kind);
  in.remove_prefix(1);
  std::string_view text;
  if (!GetInt64(&in, &r.integer) || !GetLengthPrefixed(&in, &text) || !in.empty()) return bad;
  r.text.assign(text);
  return r;
}

// ---------------------------------------------------------------------------
// Apply-time evaluation. The texts are Redis's (src/server's handlers give
// the same ones in standalone mode); the number helpers follow Redis's
// string2ll / string2ld / ld2string and live here because the node layer
// sits below the server's.

namespace {

constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
constexpr std::string_view kErrOverflow = "ERR increment or decrement would overflow";
// The longest number text INCRBYFLOAT parses (Redis's MAX_LONG_DOUBLE_CHARS).
constexpr size_t kMaxFloatChars = 5 * 1024;

// Strict decimal int64: optional '-', no leading zeros or spaces, no '+'.
bool ParseStrictInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  const bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  if (i >= s.size() || s[i] < '1' || s[i] > '9') return false;
  uint64_t v = 0;
  for (; i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (negative) {
    if (v > static_cast<uint64_t>(INT64_MAX) + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > static_cast<uint64_t>(INT64_MAX)) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ParseFloat(std::string_view s, long double* out) {
  if (s.empty() || s.size() > kMaxFloatChars) return false;
  if (std::isspace(static_cast<unsigned char>(s[0]))) return false;
  const std::string buf(s);
  char* end = nullptr;
  errno = 0;
  const long double v = std::strtold(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || std::isnan(v)) return false;
  if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || std::fpclassify(v) == FP_ZERO))
    return false;
  *out = v;
  return true;
}

// 17 decimals with the trailing zeros cut ("3.0" -> "3", "-0" -> "0").
std::string FormatFloat(long double v) {
  char buf[kMaxFloatChars + 64];
  const int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  std::string text(buf, n > 0 ? static_cast<size_t>(n) : 0);
  if (text.find('.') != std::string::npos) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  return text;
}

EvalResult Ok() { return EvalResult{EvalResult::Kind::kOk, 0, {}}; }
EvalResult Null() { return EvalResult{EvalResult::Kind::kNull, 0, {}}; }
EvalResult Integer(int64_t v) { return EvalResult{EvalResult::Kind::kInteger, v, {}}; }
EvalResult Bulk(std::string v) { return EvalResult{EvalResult::Kind::kBulk, 0, std::move(v)}; }
EvalResult Error(std::string_view text) {
  return EvalResult{EvalResult::Kind::kError, 0, std::string(text)};
}

// The absolute expiry (ms) `op` names at now_ms; false when it overflows.
bool ExpiryAt(const EvalOp& op, int64_t now_ms, int64_t* at) {
  if (op.expiry_mode == ExpiryMode::kAbsoluteMs) {
    *at = op.expiry_ms;
    return true;
  }
  DKV_ASSERT(op.expiry_mode == ExpiryMode::kRelativeMs);
  if ((op.expiry_ms > 0 && now_ms > INT64_MAX - op.expiry_ms) ||
      (op.expiry_ms < 0 && now_ms < INT64_MIN - op.expiry_ms)) {
    return false;
  }
  *at = now_ms + op.expiry_ms;
  return true;
}

std::string InvalidExpire(const EvalOp& op) {
  const char* name = op.type == EvalOpType::kSet     ? "set"
                     : op.type == EvalOpType::kGetEx ? "getex"
                                                     : "expire";
  return std::string("ERR invalid expire time in '") + name + "' command";
}

EvalOutcome Put(EvalResult r, std::string value, int64_t expire_at_ms) {
  EvalOutcome o;
  o.result = std::move(r);
  o.write = EvalOutcome::Write::kPut;
  o.value = std::move(value);
  o.expire_at_ms = expire_at_ms;
  return o;
}

EvalOutcome Delete(EvalResult r) {
  EvalOutcome o;
  o.result = std::move(r);
  o.write = EvalOutcome::Write::kDelete;
  return o;
}

EvalOutcome Answer(EvalResult r) {
  EvalOutcome o;
  o.result = std::move(r);
  return o;
}

}  // namespace

EvalOutcome EvaluateEval(const EvalOp& op, const std::optional<EvalCurrent>& cur, int64_t now_ms,
                         const EvalLookup& lookup) {
  DKV_ASSERT(CheckEval(op).ok());
  DKV_ASSERT(!cur || cur->expire_at_ms == 0 || cur->expire_at_ms > now_ms);
  const int64_t ttl = cur ? cur->expire_at_ms : 0;  // an op that rewrites the value keeps it
  switch (op.type) {
    case EvalOpType::kSet: {
      int64_t at = 0;
      if (op.expiry_mode != ExpiryMode::kNone && !ExpiryAt(op, now_ms, &at))
        return Answer(Error(InvalidExpire(op)));
      if (op.flags & kSetKeepTtl) at = ttl;
      const bool blocked = ((op.flags & kSetNx) && cur) || ((op.flags & kSetXx) && !cur);
      EvalResult r = Ok();
      if (op.flags & kSetGet) {
        r = cur ? Bulk(cur->value) : Null();
      } else if (blocked) {
        r = Null();
      }
      if (blocked) return Answer(std::move(r));
      // A time already past (SET ... PXAT <past>) leaves no live key.
      if (at != 0 && at <= now_ms) return Delete(std::move(r));
      return Put(std::move(r), op.value, at);
    }
    case EvalOpType::kIncrBy: {
      int64_t v = 0;
      if (cur && !ParseStrictInt64(cur->value, &v)) return Answer(Error(kErrNotInteger));
      const int64_t d = op.integer;
      if ((d < 0 && v < 0 && d < INT64_MIN - v) || (d > 0 && v > 0 && d > INT64_MAX - v))
        return Answer(Error(kErrOverflow));
      v += d;
      return Put(Integer(v), std::to_string(v), ttl);
    }
    case EvalOpType::kIncrByFloat: {
      long double v = 0, incr = 0;
      if (cur && !ParseFloat(cur->value, &v)) return Answer(Error(kErrNotFloat));
      if (!ParseFloat(op.value, &incr)) return Answer(Error(kErrNotFloat));
      v += incr;
      if (std::isnan(v) || std::isinf(v))
        return Answer(Error("ERR increment would produce NaN or Infinity"));
      std::string text = FormatFloat(v);
      return Put(Bulk(text), text, ttl);
    }
    case EvalOpType::kAppend: {
      const size_t len = (cur ? cur->value.size() : 0) + op.value.size();
      if (len > kMaxValueBytes) {
        return Answer(Error("ERR string exceeds maximum allowed size (" +
                            std::to_string(kMaxValueBytes >> 20) + " MiB in cluster mode)"));
      }
      std::string v = cur ? cur->value + op.value : op.value;
      return Put(Integer(static_cast<int64_t>(len)), std::move(v), ttl);
    }
    case EvalOpType::kGetDel:
      if (!cur) return Answer(Null());
      return Delete(Bulk(cur->value));
    case EvalOpType::kGetEx: {
      if (!cur) return Answer(Null());
      if (op.expiry_mode == ExpiryMode::kNone) return Answer(Bulk(cur->value));
      if (op.expiry_mode == ExpiryMode::kPersist) {
        if (ttl == 0) return Answer(Bulk(cur->value));
        return Put(Bulk(cur->value), cur->value, 0);
      }
      int64_t at = 0;
      if (!ExpiryAt(op, now_ms, &at)) return Answer(Error(InvalidExpire(op)));
      if (at <= now_ms) return Delete(Bulk(cur->value));
      if (at == ttl) return Answer(Bulk(cur->value));
      return Put(Bulk(cur->value), cur->value, at);
    }
    case EvalOpType::kExpire: {
      int64_t at = 0;
      if (!ExpiryAt(op, now_ms, &at)) return Answer(Error(InvalidExpire(op)));
      if (!cur) return Answer(Integer(0));
      // No TTL counts as an infinite one for GT and LT (Redis 7).
      if ((op.flags & kExpireNx) && ttl != 0) return Answer(Integer(0));
      if ((op.flags & kExpireXx) && ttl == 0) return Answer(Integer(0));
      if ((op.flags & kExpireGt) && (ttl == 0 || at <= ttl)) return Answer(Integer(0));
      if ((op.flags & kExpireLt) && ttl != 0 && at >= ttl) return Answer(Integer(0));
      if (at <= now_ms) return Delete(Integer(1));
      return Put(Integer(1), cur->value, at);
    }
    case EvalOpType::kPersist:
      if (!cur || ttl == 0) return Answer(Integer(0));
      return Put(Integer(1), cur->value, 0);
    case EvalOpType::kTtl:
      if (!cur) return Answer(Integer(-2));
      if (ttl == 0) return Answer(Integer(-1));
      return Answer(Integer(ttl - now_ms));
    case EvalOpType::kMSetNx: {
      std::vector<std::pair<std::string, std::string>> pairs;
      const bool ok = DecodeKeyValuePairs(op.value, &pairs);
      DKV_ASSERT(ok && lookup != nullptr);
      for (const auto& [k, v] : pairs) {
        if (k == op.key ? cur.has_value() : lookup(k).has_value()) return Answer(Integer(0));
      }
      // A key given twice takes its last value (the later write wins at apply).
      EvalOutcome o = Answer(Integer(1));
      for (auto& [k, v] : pairs) o.more.push_back(EvalKeyWrite{k, false, std::move(v), 0});
      return o;
    }
    case EvalOpType::kRename: {
      DKV_ASSERT(lookup != nullptr);
      const bool nx = (op.flags & kRenameNx) != 0;
      if (!cur) return Answer(Error("ERR no such key"));
      if (op.value == op.key) return Answer(nx ? Integer(0) : Ok());
      if (nx && lookup(op.value).has_value()) return Answer(Integer(0));
      // The value moves with its TTL.
      EvalOutcome o = Delete(nx ? Integer(1) : Ok());
      o.more.push_back(EvalKeyWrite{op.value, false, cur->value, ttl});
      return o;
    }
  }
  DKV_ASSERT(false && "unknown eval op");
  return Answer(Error("ERR unknown eval op"));
}

}  // namespace dkv::node

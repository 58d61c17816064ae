// Handlers for Redis's string commands (Redis src/t_string.c semantics).
#include <climits>
#include <cmath>
#include <cstdio>

#include "server/command_table.h"
#include "server/command_util.h"
#include "server/commands.h"
#include "server/resp_parser.h"

namespace dkv::server::cmd {

namespace {

// Redis's default proto-max-bulk-len, the largest string SETRANGE/APPEND build.
constexpr int64_t kMaxStringBytes = 512LL << 20;

enum SetFlags : uint32_t {
  kSetNx = 1,
  kSetXx = 2,
  kSetGet = 4,
  kSetKeepTtl = 8,
  kSetExpire = 16,   // one of EX PX EXAT PXAT
  kSetPersist = 32,  // GETEX only
};

// Parses SET/GETEX options from argv[first..]. Returns false after replying.
bool ParseSetOptions(CommandContext& ctx, size_t first, bool is_getex, uint32_t* flags,
                     int64_t* expire_at_ms) {
  for (size_t i = first; i < ctx.argc(); i++) {
    const std::string& opt = ctx.arg(i);
    bool has_next = i + 1 < ctx.argc();
    if (!is_getex && EqualsIgnoreCase(opt, "nx") && !(*flags & (kSetXx))) {
      *flags |= kSetNx;
    } else if (!is_getex && EqualsIgnoreCase(opt, "xx") && !(*flags & kSetNx)) {
      *flags |= kSetXx;
    } else if (!is_getex && EqualsIgnoreCase(opt, "get")) {
      *flags |= kSetGet;
    } else if (!is_getex && EqualsIgnoreCase(opt, "keepttl") && !(*flags & kSetExpire)) {
      *flags |= kSetKeepTtl;
    } else if (is_getex && EqualsIgnoreCase(opt, "persist") && !(*flags & kSetExpire)) {
      *flags |= kSetPersist;
    } else if ((EqualsIgnoreCase(opt, "ex") || EqualsIgnoreCase(opt, "px") ||
                EqualsIgnoreCase(opt, "exat") || EqualsIgnoreCase(opt, "pxat")) &&
               !(*flags & (kSetKeepTtl | kSetExpire | kSetPersist)) && has_next) {
      bool seconds = EqualsIgnoreCase(opt, "ex") || EqualsIgnoreCase(opt, "exat");
      bool absolute = EqualsIgnoreCase(opt, "exat") || EqualsIgnoreCase(opt, "pxat");
      *flags |= kSetExpire;
      if (!ParseExpireArg(ctx, ctx.arg(i + 1), seconds ? 1000 : 1, absolute, false, expire_at_ms)) {
        return false;
      }
      i++;
    } else {
      ctx.reply->Error(kErrSyntax);
      return false;
    }
  }
  return true;
}

// The shared core of SET, SETNX, SETEX, PSETEX, GETSET.
void SetGeneric(CommandContext& ctx, std::string_view key, std::string_view value, uint32_t flags,
                int64_t expire_at_ms, bool reply_int) {
  std::optional<StoredValue> old;
  bool need_old = (flags & (kSetNx | kSetXx | kSetGet | kSetKeepTtl)) != 0;
  if (need_old) {
    Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(key);
    if (!r.ok()) return ctx.ReplyStatus(r.status());
    old = std::move(r).value();
    if ((flags & kSetGet) && old && old->type != ValueType::kString) {
      return ctx.reply->Error(kErrWrongType);
    }
  }
  bool blocked = ((flags & kSetNx) && old) || ((flags & kSetXx) && !old);
  if (!blocked) {
    const int64_t at = (flags & kSetKeepTtl) && old ? old->expire_at_ms : expire_at_ms;
    Status s = ctx.keyspace->SetString(key, value, at);  // no StoredValue copy of the value
    if (!s.ok()) return ctx.ReplyStatus(s);
  }
  if (flags & kSetGet) {
    if (old) return ctx.reply->Bulk(old->payload);
    return ctx.reply->Null();
  }
  if (reply_int) return ctx.reply->Integer(blocked ? 0 : 1);
  if (blocked) return ctx.reply->Null();
  ctx.reply->Ok();
}

void IncrDecr(CommandContext& ctx, int64_t delta) {
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  int64_t current = 0;
  if (v && !ParseInt64Strict(v->payload, &current)) return ctx.reply->Error(kErrNotInteger);
  if ((delta < 0 && current < 0 && delta < LLONG_MIN - current) ||
      (delta > 0 && current > 0 && delta > LLONG_MAX - current)) {
    return ctx.reply->Error(kErrOverflow);
  }
  current += delta;
  StoredValue nv;
  nv.expire_at_ms = v ? v->expire_at_ms : 0;  // INCR keeps the TTL
  nv.payload = std::to_string(current);
  if (!Store(ctx, ctx.arg(1), nv)) return;
  ctx.reply->Integer(current);
}

}  // namespace

void Get(CommandContext& ctx) {
  // The hot read: the reply is built from the cached bytes, no copy.
  Result<std::optional<Keyspace::ValueView>> r = ctx.keyspace->LookupView(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  const std::optional<Keyspace::ValueView>& v = r.value();
  if (!v) return ctx.reply->Null();
  if (v->type != ValueType::kString) return ctx.reply->Error(kErrWrongType);
  ctx.reply->Bulk(v->payload);
}

void Set(CommandContext& ctx) {
  uint32_t flags = 0;
  int64_t expire_at_ms = 0;
  if (!ParseSetOptions(ctx, 3, false, &flags, &expire_at_ms)) return;
  SetGeneric(ctx, ctx.arg(1), ctx.arg(2), flags, expire_at_ms, false);
}

void SetNx(CommandContext& ctx) { SetGeneric(ctx, ctx.arg(1), ctx.arg(2), kSetNx, 0, true); }

void SetEx(CommandContext& ctx) {
  int64_t at = 0;
  if (!ParseExpireArg(ctx, ctx.arg(2), 1000, false, false, &at)) return;
  SetGeneric(ctx, ctx.arg(1), ctx.arg(3), 0, at, false);
}

void PSetEx(CommandContext& ctx) {
  int64_t at = 0;
  if (!ParseExpireArg(ctx, ctx.arg(2), 1, false, false, &at)) return;
  SetGeneric(ctx, ctx.arg(1), ctx.arg(3), 0, at, false);
}

void GetSet(CommandContext& ctx) { SetGeneric(ctx, ctx.arg(1), ctx.arg(2), kSetGet, 0, false); }

void GetDel(CommandContext& ctx) {
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  if (!v) return ctx.reply->Null();
  bool existed = false;
  Status s = ctx.keyspace->Delete(ctx.arg(1), &existed);
  if (!s.ok()) return ctx.ReplyStatus(s);
  ctx.reply->Bulk(v->payload);
}

void GetEx(CommandContext& ctx) {
  uint32_t flags = 0;
  int64_t expire_at_ms = 0;
  if (!ParseSetOptions(ctx, 2, true, &flags, &expire_at_ms)) return;
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  if (!v) return ctx.reply->Null();
  if (flags & (kSetExpire | kSetPersist)) {
    StoredValue nv = *v;
    nv.expire_at_ms = (flags & kSetPersist) ? 0 : expire_at_ms;
    if (nv.expire_at_ms != v->expire_at_ms && !Store(ctx, ctx.arg(1), nv)) return;
  }
  ctx.reply->Bulk(v->payload);
}

void MGet(CommandContext& ctx) {
  std::vector<std::optional<StoredValue>> values;
  for (size_t i = 1; i < ctx.argc(); i++) {
    Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(i));
    if (!r.ok()) return ctx.ReplyStatus(r.status());
    values.push_back(std::move(r).value());
  }
  ctx.reply->ArrayHeader(static_cast<int64_t>(values.size()));
  for (auto& v : values) {
    // MGET replies nil for keys of another type rather than an error.
    if (v && v->type == ValueType::kString) {
      ctx.reply->Bulk(v->payload);
    } else {
      ctx.reply->Null();
    }
  }
}

namespace {

void MSetGeneric(CommandContext& ctx, bool nx) {
  if (ctx.argc() % 2 == 0) return ctx.reply->Error(WrongArityError(ctx.spec->name));
  if (nx) {
    for (size_t i = 1; i < ctx.argc(); i += 2) {
      Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(i));
      if (!r.ok()) return ctx.ReplyStatus(r.status());
      if (r.value().has_value()) return ctx.reply->Integer(0);
    }
  }
  std::vector<std::pair<std::string, StoredValue>> kvs;
  for (size_t i = 1; i < ctx.argc(); i += 2) {
    StoredValue v;
    v.payload = ctx.arg(i + 1);
    kvs.emplace_back(ctx.arg(i), std::move(v));
  }
  Status s = ctx.keyspace->SetMany(kvs);
  if (!s.ok()) return ctx.ReplyStatus(s);
  if (nx) return ctx.reply->Integer(1);
  ctx.reply->Ok();
}

}  // namespace

void MSet(CommandContext& ctx) { MSetGeneric(ctx, false); }
void MSetNx(CommandContext& ctx) { MSetGeneric(ctx, true); }

void Incr(CommandContext& ctx) { IncrDecr(ctx, 1); }
void Decr(CommandContext& ctx) { IncrDecr(ctx, -1); }

void IncrBy(CommandContext& ctx) {
  int64_t d = 0;
  if (!ArgToInt64(ctx, ctx.arg(2), &d)) return;
  IncrDecr(ctx, d);
}

void DecrBy(CommandContext& ctx) {
  int64_t d = 0;
  if (!ArgToInt64(ctx, ctx.arg(2), &d)) return;
  if (d == LLONG_MIN) return ctx.reply->Error("ERR decrement would overflow");
  IncrDecr(ctx, -d);
}

void IncrByFloat(CommandContext& ctx) {
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  long double current = 0, incr = 0;
  if (v && !ParseLongDouble(v->payload, &current)) return ctx.reply->Error(kErrNotFloat);
  if (!ParseLongDouble(ctx.arg(2), &incr)) return ctx.reply->Error(kErrNotFloat);
  current += incr;
  if (std::isnan(current) || std::isinf(current)) {
    return ctx.reply->Error("ERR increment would produce NaN or Infinity");
  }
  // Redis's human-friendly long double: 17 decimals, trailing zeros cut.
  char buf[5 * 1024 + 64];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", current);
  std::string text(buf, static_cast<size_t>(n));
  if (text.find('.') != std::string::npos) {
    while (!text.empty() && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
  }
  if (text == "-0") text = "0";
  StoredValue nv;
  nv.expire_at_ms = v ? v->expire_at_ms : 0;
  nv.payload = text;
  if (!Store(ctx, ctx.arg(1), nv)) return;
  ctx.reply->Bulk(text);
}

void Append(CommandContext& ctx) {
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  StoredValue nv = v ? *v : StoredValue{};
  if (static_cast<int64_t>(nv.payload.size() + ctx.arg(2).size()) > kMaxStringBytes) {
    return ctx.reply->Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
  nv.payload.append(ctx.arg(2));
  if (!Store(ctx, ctx.arg(1), nv)) return;
  ctx.reply->Integer(static_cast<int64_t>(nv.payload.size()));
}

void StrLen(CommandContext& ctx) {
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  ctx.reply->Integer(v ? static_cast<int64_t>(v->payload.size()) : 0);
}

void GetRange(CommandContext& ctx) {
  int64_t start = 0, end = 0;
  if (!ArgToInt64(ctx, ctx.arg(2), &start) || !ArgToInt64(ctx, ctx.arg(3), &end)) return;
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  if (!v) return ctx.reply->Bulk("");
  int64_t len = static_cast<int64_t>(v->payload.size());
  if (start < 0 && end < 0 && start > end) return ctx.reply->Bulk("");
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (len == 0 || start > end) return ctx.reply->Bulk("");
  ctx.reply->Bulk(std::string_view(v->payload)
                      .substr(static_cast<size_t>(start), static_cast<size_t>(end - start + 1)));
}

void SetRange(CommandContext& ctx) {
  int64_t offset = 0;
  if (!ArgToInt64(ctx, ctx.arg(2), &offset)) return;
  if (offset < 0) return ctx.reply->Error("ERR offset is out of range");
  const std::string& value = ctx.arg(3);
  std::optional<StoredValue> v;
  if (!LookupString(ctx, ctx.arg(1), &v)) return;
  if (value.empty()) return ctx.reply->Integer(v ? static_cast<int64_t>(v->payload.size()) : 0);
  if (offset + static_cast<int64_t>(value.size()) > kMaxStringBytes) {
    return ctx.reply->Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
  }
  StoredValue nv = v ? *v : StoredValue{};
  size_t need = static_cast<size_t>(offset) + value.size();
  if (nv.payload.size() < need) nv.payload.resize(need, '\0');
  nv.payload.replace(static_cast<size_t>(offset), value.size(), value);
  if (!Store(ctx, ctx.arg(1), nv)) return;
  ctx.reply->Integer(static_cast<int64_t>(nv.payload.size()));
}

}  // namespace dkv::server::cmd

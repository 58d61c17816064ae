// Handlers for Redis's generic key commands (Redis src/db.c, src/expire.c).
#include <algorithm>
#include <climits>
#include <random>

#include "server/command_util.h"
#include "server/commands.h"
#include "server/limits.h"
#include "server/resp_parser.h"

namespace dkv::server::cmd {

namespace {

const char* TypeName(ValueType t) {
  switch (t) {
    case ValueType::kString:
      return "string";
  }
  return "none";
}

// EXPIRE family: options NX XX GT LT (Redis 7). `unit_ms` and `absolute`
// say how argv[2] reads.
void ExpireGeneric(CommandContext& ctx, int64_t unit_ms, bool absolute) {
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < ctx.argc(); i++) {
    const std::string& o = ctx.arg(i);
    if (EqualsIgnoreCase(o, "nx")) {
      nx = true;
    } else if (EqualsIgnoreCase(o, "xx")) {
      xx = true;
    } else if (EqualsIgnoreCase(o, "gt")) {
      gt = true;
    } else if (EqualsIgnoreCase(o, "lt")) {
      lt = true;
    } else {
      return ctx.reply->Error("ERR Unsupported option " + o);
    }
  }
  if (nx && (xx || gt || lt)) {
    return ctx.reply->Error("ERR NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) {
    return ctx.reply->Error("ERR GT and LT options at the same time are not compatible");
  }
  int64_t at = 0;
  if (!ParseExpireArg(ctx, ctx.arg(2), unit_ms, absolute, true, &at)) return;
  std::optional<StoredValue> v;
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  v = std::move(r).value();
  if (!v) return ctx.reply->Integer(0);
  int64_t cur = v->expire_at_ms;  // 0: none, which counts as infinite for GT/LT
  if (nx && cur != 0) return ctx.reply->Integer(0);
  if (xx && cur == 0) return ctx.reply->Integer(0);
  if (gt && (cur == 0 || at <= cur)) return ctx.reply->Integer(0);
  if (lt && cur != 0 && at >= cur) return ctx.reply->Integer(0);
  if (at <= ctx.keyspace->NowMs()) {
    bool existed = false;
    Status s = ctx.keyspace->Delete(ctx.arg(1), &existed);
    if (!s.ok()) return ctx.ReplyStatus(s);
    return ctx.reply->Integer(1);
  }
  v->expire_at_ms = at;
  if (!Store(ctx, ctx.arg(1), *v)) return;
  ctx.reply->Integer(1);
}

void TtlGeneric(CommandContext& ctx, bool ms) {
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  if (!r.value()) return ctx.reply->Integer(-2);
  int64_t at = r.value()->expire_at_ms;
  if (at == 0) return ctx.reply->Integer(-1);
  int64_t left = at - ctx.keyspace->NowMs();
  if (left < 0) left = 0;
  ctx.reply->Integer(ms ? left : (left + 500) / 1000);
}

void RenameGeneric(CommandContext& ctx, bool nx) {
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  if (!r.value()) return ctx.reply->Error(kErrNoSuchKey);
  StoredValue v = std::move(*r.value());
  if (ctx.arg(1) == ctx.arg(2)) {
    if (nx) return ctx.reply->Integer(0);
    return ctx.reply->Ok();
  }
  if (nx) {
    Result<std::optional<StoredValue>> d = ctx.keyspace->Lookup(ctx.arg(2));
    if (!d.ok()) return ctx.ReplyStatus(d.status());
    if (d.value()) return ctx.reply->Integer(0);
  }
  // One atomic engine write: a crash never leaves both keys or neither.
  ctx.keyspace->BeginBatch();
  Status s = ctx.keyspace->Set(ctx.arg(2), v);
  bool existed = false;
  if (s.ok()) s = ctx.keyspace->Delete(ctx.arg(1), &existed);
  Status c = ctx.keyspace->CommitBatch();
  if (!s.ok()) return ctx.ReplyStatus(s);
  if (!c.ok()) return ctx.ReplyStatus(c);
  if (nx) return ctx.reply->Integer(1);
  ctx.reply->Ok();
}

}  // namespace

void Del(CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < ctx.argc(); i++) {
    bool existed = false;
    Status s = ctx.keyspace->Delete(ctx.arg(i), &existed);
    if (!s.ok()) return ctx.ReplyStatus(s);
    if (existed) deleted++;
  }
  ctx.reply->Integer(deleted);
}

void Exists(CommandContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.argc(); i++) {
    Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(i));
    if (!r.ok()) return ctx.ReplyStatus(r.status());
    if (r.value()) n++;
  }
  ctx.reply->Integer(n);
}

void Type(CommandContext& ctx) {
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  ctx.reply->Simple(r.value() ? TypeName(r.value()->type) : "none");
}

void Expire(CommandContext& ctx) { ExpireGeneric(ctx, 1000, false); }
void PExpire(CommandContext& ctx) { ExpireGeneric(ctx, 1, false); }
void ExpireAt(CommandContext& ctx) { ExpireGeneric(ctx, 1000, true); }
void PExpireAt(CommandContext& ctx) { ExpireGeneric(ctx, 1, true); }
void Ttl(CommandContext& ctx) { TtlGeneric(ctx, false); }
void PTtl(CommandContext& ctx) { TtlGeneric(ctx, true); }

void Persist(CommandContext& ctx) {
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(ctx.arg(1));
  if (!r.ok()) return ctx.ReplyStatus(r.status());
  if (!r.value() || r.value()->expire_at_ms == 0) return ctx.reply->Integer(0);
  StoredValue v = std::move(*r.value());
  v.expire_at_ms = 0;
  if (!Store(ctx, ctx.arg(1), v)) return;
  ctx.reply->Integer(1);
}

void Keys(CommandContext& ctx) {
  const std::string& pattern = ctx.arg(1);
  bool all = pattern == "*";
  std::vector<std::string> out;
  std::string start;
  while (true) {
    std::vector<std::string> keys;
    std::string next;
    Status s = ctx.keyspace->ScanKeys(start, 1024, &keys, &next);
    if (!s.ok()) return ctx.ReplyStatus(s);
    for (auto& k : keys) {
      if (all || GlobMatch(pattern, k)) out.push_back(std::move(k));
    }
    if (next.empty()) break;
    start = std::move(next);
  }
  ctx.reply->ArrayHeader(static_cast<int64_t>(out.size()));
  for (const auto& k : out) ctx.reply->Bulk(k);
}

void Scan(CommandContext& ctx) {
  int64_t cursor = 0;
  if (!ParseInt64Strict(ctx.arg(1), &cursor) || cursor < 0) {
    return ctx.reply->Error("ERR invalid cursor");
  }
  std::string pattern;
  bool has_pattern = false;
  int64_t count = kScanDefaultCount;
  std::string type;
  for (size_t i = 2; i < ctx.argc(); i += 2) {
    if (i + 1 >= ctx.argc()) return ctx.reply->Error(kErrSyntax);
    const std::string& o = ctx.arg(i);
    if (EqualsIgnoreCase(o, "match")) {
      pattern = ctx.arg(i + 1);
      has_pattern = pattern != "*";
    } else if (EqualsIgnoreCase(o, "count")) {
      if (!ArgToInt64(ctx, ctx.arg(i + 1), &count)) return;
      if (count < 1) return ctx.reply->Error(kErrSyntax);
    } else if (EqualsIgnoreCase(o, "type")) {
      type = ToLower(ctx.arg(i + 1));
    } else {
      return ctx.reply->Error(kErrSyntax);
    }
  }
  std::string start;
  if (cursor != 0 && !ctx.keyspace->FindScanCursor(static_cast<uint64_t>(cursor), &start)) {
    return ctx.reply->Error("ERR invalid cursor");
  }
  // Bound one call's work whatever COUNT says.
  size_t limit = static_cast<size_t>(std::min<int64_t>(count, 100000));
  std::vector<std::string> keys;
  std::string next;
  Status s = ctx.keyspace->ScanKeys(start, limit, &keys, &next);
  if (!s.ok()) return ctx.ReplyStatus(s);
  uint64_t next_cursor = next.empty() ? 0 : ctx.keyspace->SaveScanCursor(std::move(next));
  std::vector<std::string> out;
  for (auto& k : keys) {
    if (has_pattern && !GlobMatch(pattern, k)) continue;
    if (!type.empty() && type != "string") continue;
    out.push_back(std::move(k));
  }
  ctx.reply->ArrayHeader(2);
  ctx.reply->Bulk(std::to_string(next_cursor));
  ctx.reply->ArrayHeader(static_cast<int64_t>(out.size()));
  for (const auto& k : out) ctx.reply->Bulk(k);
}

void DbSize(CommandContext& ctx) { ctx.reply->Integer(ctx.keyspace->Size()); }

void FlushDb(CommandContext& ctx) {
  if (ctx.argc() > 2 || (ctx.argc() == 2 && !EqualsIgnoreCase(ctx.arg(1), "async") &&
                         !EqualsIgnoreCase(ctx.arg(1), "sync"))) {
    return ctx.reply->Error(kErrSyntax);
  }
  int64_t count = 0;
  Status s = ctx.keyspace->Clear(&count);
  if (!s.ok()) return ctx.ReplyStatus(s);
  ctx.reply->Ok();
}

void Rename(CommandContext& ctx) { RenameGeneric(ctx, false); }
void RenameNx(CommandContext& ctx) { RenameGeneric(ctx, true); }

void RandomKey(CommandContext& ctx) {
  // Seek to a random point of the key space and take the next key,
  // wrapping to the start. Not uniform (keys after gaps win more often).
  thread_local std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 0; attempt < 2; attempt++) {
    std::string start;
    if (attempt == 0) {
      uint64_t r = rng();
      for (int i = 0; i < 8; i++) start.push_back(static_cast<char>((r >> (56 - 8 * i)) & 0xff));
    }
    std::vector<std::string> keys;
    std::string next;
    Status s = ctx.keyspace->ScanKeys(start, 16, &keys, &next);
    if (!s.ok()) return ctx.ReplyStatus(s);
    if (!keys.empty()) return ctx.reply->Bulk(keys[0]);
    if (attempt == 0 && !next.empty()) {
      // 16 expired keys in a row: fall through to a scan from the start.
    }
  }
  ctx.reply->Null();
}

}  // namespace dkv::server::cmd

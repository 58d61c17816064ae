#include "server/command_util.h"

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "server/resp_parser.h"

namespace dkv::server {

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

namespace {

bool GlobMatchImpl(const char* p, size_t plen, const char* s, size_t slen, bool nocase, int depth) {
  // Bounded recursion (Redis does the same since 7.0 to stop pathological
  // patterns from exhausting the stack).
  if (depth > 1000) return false;
  auto lower = [nocase](char c) {
    return nocase ? static_cast<char>(std::tolower(static_cast<unsigned char>(c))) : c;
  };
  while (plen > 0 && slen > 0) {
    switch (p[0]) {
      case '*':
        while (plen > 1 && p[1] == '*') {
          p++;
          plen--;
        }
        if (plen == 1) return true;
        while (slen > 0) {
          if (GlobMatchImpl(p + 1, plen - 1, s, slen, nocase, depth + 1)) return true;
          s++;
          slen--;
        }
        return false;
      case '?':
        s++;
        slen--;
        break;
      case '[': {
        p++;
        plen--;
        bool negate = plen > 0 && p[0] == '^';
        if (negate) {
          p++;
          plen--;
        }
        bool match = false;
        while (plen > 0) {
          if (p[0] == '\\' && plen >= 2) {
            p++;
            plen--;
            if (p[0] == s[0]) match = true;
          } else if (p[0] == ']') {
            break;
          } else if (plen >= 3 && p[1] == '-') {
            char start = lower(p[0]), end = lower(p[2]), c = lower(s[0]);
            if (start > end) std::swap(start, end);
            if (c >= start && c <= end) match = true;
            p += 2;
            plen -= 2;
          } else if (lower(p[0]) == lower(s[0])) {
            match = true;
          }
          p++;
          plen--;
        }
        if (plen == 0) {  // unterminated '[': treat the end as ']'
          p--;
          plen++;
        }
        if (negate) match = !match;
        if (!match) return false;
        s++;
        slen--;
        break;
      }
      case '\\':
        if (plen >= 2) {
          p++;
          plen--;
        }
        [[fallthrough]];
      default:
        if (lower(p[0]) != lower(s[0])) return false;
        s++;
        slen--;
        break;
    }
    p++;
    plen--;
    if (slen == 0) {
      while (plen > 0 && p[0] == '*') {
        p++;
        plen--;
      }
      break;
    }
  }
  return plen == 0 && slen == 0;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase) {
  return GlobMatchImpl(pattern.data(), pattern.size(), s.data(), s.size(), nocase, 0);
}

bool ArgToInt64(CommandContext& ctx, std::string_view s, int64_t* out) {
  if (!ParseInt64Strict(s, out)) {
    ctx.reply->Error(kErrNotInteger);
    return false;
  }
  return true;
}

bool ParseLongDouble(std::string_view s, long double* out) {
  if (s.empty() || s.size() > 5 * 1024) return false;
  if (std::isspace(static_cast<unsigned char>(s[0]))) return false;
  std::string buf(s);
  char* end = nullptr;
  errno = 0;
  long double v = std::strtold(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size()) return false;
  if (std::isnan(v)) return false;
  if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || std::fpclassify(v) == FP_ZERO)) {
    return false;
  }
  *out = v;
  return true;
}

bool LookupString(CommandContext& ctx, std::string_view key, std::optional<StoredValue>* value) {
  Result<std::optional<StoredValue>> r = ctx.keyspace->Lookup(key);
  if (!r.ok()) {
    ctx.ReplyStatus(r.status());
    return false;
  }
  *value = std::move(r).value();
  if (value->has_value() && (*value)->type != ValueType::kString) {
    ctx.reply->Error(kErrWrongType);
    return false;
  }
  return true;
}

bool Store(CommandContext& ctx, std::string_view key, const StoredValue& value) {
  Status s = ctx.keyspace->Set(key, value);
  if (!s.ok()) {
    ctx.ReplyStatus(s);
    return false;
  }
  return true;
}

bool ParseExpireArg(CommandContext& ctx, std::string_view arg, int64_t unit_ms, bool absolute,
                    bool allow_nonpositive, int64_t* expire_at_ms) {
  int64_t v = 0;
  if (!ArgToInt64(ctx, arg, &v)) return false;
  std::string invalid = "ERR invalid expire time in '" + std::string(ctx.spec->name) + "' command";
  if (!allow_nonpositive && v <= 0) {
    ctx.reply->Error(invalid);
    return false;
  }
  if (unit_ms != 1) {
    if (v > LLONG_MAX / unit_ms || v < LLONG_MIN / unit_ms) {
      ctx.reply->Error(invalid);
      return false;
    }
    v *= unit_ms;
  }
  if (!absolute) {
    int64_t now = ctx.keyspace->NowMs();
    if ((v > 0 && now > LLONG_MAX - v) || (v < 0 && now < LLONG_MIN - v)) {
      ctx.reply->Error(invalid);
      return false;
    }
    v += now;
  }
  *expire_at_ms = v;
  return true;
}

}  // namespace dkv::server

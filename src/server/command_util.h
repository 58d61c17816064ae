// Small helpers the command handlers share: argument parsing with Redis's
// error replies, and typed lookups. Internal to the server layer; stateless.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/command.h"

namespace dkv::server {

// Parses an integer argument; on failure replies kErrNotInteger and returns false.
bool ArgToInt64(CommandContext& ctx, std::string_view s, int64_t* out);
// Parses a long double the way Redis's string2ld does (no spaces, no nan).
bool ParseLongDouble(std::string_view s, long double* out);

// Looks a key up expecting a string. Returns false after replying an error
// (engine failure or WRONGTYPE); otherwise *value is the value or nullopt.
bool LookupString(CommandContext& ctx, std::string_view key, std::optional<StoredValue>* value);

// Stores a value; returns false after replying the error if the engine failed.
bool Store(CommandContext& ctx, std::string_view key, const StoredValue& value);

// Parses an expiry argument in `unit_ms` (1000 for seconds, 1 for ms),
// absolute or relative, into ms since the epoch. Replies Redis's error
// ("value is not an integer..." or "invalid expire time in '<cmd>' command")
// and returns false when invalid. `allow_nonpositive` is for EXPIRE, where a
// past time deletes the key.
bool ParseExpireArg(CommandContext& ctx, std::string_view arg, int64_t unit_ms, bool absolute,
                    bool allow_nonpositive, int64_t* expire_at_ms);

}  // namespace dkv::server

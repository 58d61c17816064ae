// What a command handler sees: the command row (CommandSpec), the calling
// client's state (ClientState), the keyspace, the reply builder, and the
// server's own facilities (ServerApi: config, clients, INFO).
//
// All of it belongs to the event-loop thread; handlers run there one at a
// time, which is what makes each command (and MULTI/EXEC) atomic on a node.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "server/keyspace.h"
#include "server/reply.h"

namespace dkv::server {

// Command flags, named after Redis's.
enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,
  kCmdReadonly = 1u << 1,
  kCmdFast = 1u << 2,
  kCmdAdmin = 1u << 3,
  kCmdNoScript = 1u << 4,
  kCmdNoAuth = 1u << 5,  // allowed before AUTH
  kCmdLoading = 1u << 6,
  kCmdStale = 1u << 7,
  kCmdNoMulti = 1u << 8,  // runs immediately even inside MULTI (EXEC, DISCARD, ...)
  kCmdDenyOom = 1u << 9,
};

struct CommandContext;
using CommandHandler = void (*)(CommandContext& ctx);

// One row of the command table (Redis src/commands/*.json in a line).
struct CommandSpec {
  const char* name;  // lower case
  int arity;         // argc including the name; negative: at least -arity
  uint32_t flags;
  int first_key;  // 0: no keys
  int last_key;   // -1: the last argument
  int key_step;
  CommandHandler handler;
  const char* summary;
  const char* since;
  const char* group;
};

// Per-connection state the commands read and change.
struct ClientState {
  int64_t id = 0;
  std::string name;
  std::string addr;  // "ip:port"
  std::string laddr;
  int protocol = 2;  // 2 or 3 (HELLO)
  bool authenticated = false;
  std::string user = "default";
  int64_t created_ms = 0;
  int64_t last_interaction_ms = 0;
  std::string last_command;
  bool close_after_reply = false;  // QUIT, CLIENT KILL of oneself, protocol errors
  bool killed = false;
  // MULTI/EXEC.
  bool in_multi = false;
  bool multi_dirty = false;  // a queued command was rejected: EXEC aborts
  std::vector<std::vector<std::string>> queued;
  std::set<std::string> watched;
  // Watched keys whose TTL had already passed when WATCHed: their expiry is
  // no change (Redis 7 keeps the same flag).
  std::set<std::string> watched_expired;
  bool watch_dirty = false;  // a watched key changed: EXEC returns null
};

// The server facilities a few commands need. Implemented by the real server
// and by a fake in tests.
class ServerApi {
 public:
  virtual ~ServerApi() = default;
  virtual std::vector<ClientState*> Clients() = 0;
  // Marks a client to be closed; true if it exists.
  virtual bool KillClient(int64_t id) = 0;
  // Config parameters matching a glob pattern, as (name, value) pairs.
  virtual std::vector<std::pair<std::string, std::string>> ConfigGet(std::string_view pattern) = 0;
  // InvalidArgument with the reason if the name or value is not accepted.
  virtual Status ConfigSet(std::string_view name, std::string_view value) = 0;
  // The text of INFO for a section ("" or "default" or "all" for all).
  virtual std::string Info(std::string_view section) = 0;
  // Checks a user/password pair.
  virtual bool CheckPassword(std::string_view user, std::string_view password) = 0;
  // True if no password is set (AUTH then fails with Redis's hint).
  virtual bool NoPasswordConfigured() = 0;
  // WATCH bookkeeping: the server tracks which clients watch which keys.
  virtual void Watch(ClientState* client, const std::string& key) = 0;
  virtual void UnwatchAll(ClientState* client) = 0;
};

struct CommandContext {
  const CommandSpec* spec = nullptr;
  const std::vector<std::string>* argv = nullptr;
  ClientState* client = nullptr;
  Keyspace* keyspace = nullptr;
  ReplyBuilder* reply = nullptr;
  ServerApi* server = nullptr;

  const std::string& arg(size_t i) const { return (*argv)[i]; }
  size_t argc() const { return argv->size(); }
  // Replies "-ERR <status message>" for an engine failure.
  void ReplyStatus(const Status& s);
};

// Redis's error texts, shared by the handlers.
inline constexpr std::string_view kErrSyntax = "ERR syntax error";
inline constexpr std::string_view kErrNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kErrNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kErrWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kErrOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kErrNoSuchKey = "ERR no such key";

// Lower-cases ASCII.
std::string ToLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// Redis's stringmatchlen glob (*, ?, [a-z], [^x], \x), case-sensitive
// unless nocase.
bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase = false);

}  // namespace dkv::server

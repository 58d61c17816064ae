#include "server/command_table.h"

#include <algorithm>

#include "common/assert.h"
#include "server/commands.h"

namespace dkv::server {

namespace {

constexpr uint32_t W = kCmdWrite;
constexpr uint32_t R = kCmdReadonly;
constexpr uint32_t F = kCmdFast;
constexpr uint32_t A = kCmdAdmin;
constexpr uint32_t NS = kCmdNoScript;
constexpr uint32_t NA = kCmdNoAuth;
constexpr uint32_t NM = kCmdNoMulti;
constexpr uint32_t OOM = kCmdDenyOom;
constexpr uint32_t LS = kCmdLoading | kCmdStale;

// One row per command: name, arity, flags, first/last key, step, handler,
// summary, since, group. Arity counts the name; negative means "at least".
const std::vector<CommandSpec> kCommands = {
    // strings
    {"get", 2, R | F, 1, 1, 1, cmd::Get, "Returns the string value of a key.", "1.0.0", "string"},
    {"set", -3, W | OOM, 1, 1, 1, cmd::Set,
     "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
     "1.0.0", "string"},
    {"setnx", 3, W | OOM | F, 1, 1, 1, cmd::SetNx,
     "Set the string value of a key only when the key doesn't exist.", "1.0.0", "string"},
    {"setex", 4, W | OOM, 1, 1, 1, cmd::SetEx,
     "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
     "2.0.0", "string"},
    {"psetex", 4, W | OOM, 1, 1, 1, cmd::PSetEx,
     "Sets both string value and expiration time in milliseconds of a key.", "2.6.0", "string"},
    {"getset", 3, W | OOM | F, 1, 1, 1, cmd::GetSet,
     "Returns the previous string value of a key after setting it to a new value.", "1.0.0",
     "string"},
    {"getdel", 2, W | F, 1, 1, 1, cmd::GetDel,
     "Returns the string value of a key after deleting the key.", "6.2.0", "string"},
    {"getex", -2, W | F, 1, 1, 1, cmd::GetEx,
     "Returns the string value of a key after setting its expiration time.", "6.2.0", "string"},
    {"mget", -2, R | F, 1, -1, 1, cmd::MGet,
     "Atomically returns the string values of one or more keys.", "1.0.0", "string"},
    {"mset", -3, W | OOM, 1, -1, 2, cmd::MSet,
     "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "string"},
    {"msetnx", -3, W | OOM, 1, -1, 2, cmd::MSetNx,
     "Atomically modifies the string values of one or more keys only when all keys don't exist.",
     "1.0.1", "string"},
    {"incr", 2, W | OOM | F, 1, 1, 1, cmd::Incr,
     "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "1.0.0", "string"},
    {"incrby", 3, W | OOM | F, 1, 1, 1, cmd::IncrBy,
     "Increments the integer value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "1.0.0", "string"},
    {"incrbyfloat", 3, W | OOM | F, 1, 1, 1, cmd::IncrByFloat,
     "Increment the floating point value of a key by a number. Uses 0 as initial value if the key "
     "doesn't exist.",
     "2.6.0", "string"},
    {"decr", 2, W | OOM | F, 1, 1, 1, cmd::Decr,
     "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't "
     "exist.",
     "1.0.0", "string"},
    {"decrby", 3, W | OOM | F, 1, 1, 1, cmd::DecrBy,
     "Decrements a number from the integer value of a key. Uses 0 as initial value if the key "
     "doesn't exist.",
     "1.0.0", "string"},
    {"append", 3, W | OOM | F, 1, 1, 1, cmd::Append,
     "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0",
     "string"},
    {"strlen", 2, R | F, 1, 1, 1, cmd::StrLen, "Returns the length of a string value.", "2.2.0",
     "string"},
    {"getrange", 4, R, 1, 1, 1, cmd::GetRange, "Returns a substring of the string stored at a key.",
     "2.4.0", "string"},
    {"setrange", 4, W | OOM, 1, 1, 1, cmd::SetRange,
     "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't "
     "exist.",
     "2.2.0", "string"},
    // keys
    {"del", -2, W, 1, -1, 1, cmd::Del, "Deletes one or more keys.", "1.0.0", "generic"},
    {"unlink", -2, W | F, 1, -1, 1, cmd::Del, "Asynchronously deletes one or more keys.", "4.0.0",
     "generic"},
    {"exists", -2, R | F, 1, -1, 1, cmd::Exists, "Determines whether one or more keys exist.",
     "1.0.0", "generic"},
    {"type", 2, R | F, 1, 1, 1, cmd::Type, "Determines the type of value stored at a key.", "1.0.0",
     "generic"},
    {"expire", -3, W | F, 1, 1, 1, cmd::Expire, "Sets the expiration time of a key in seconds.",
     "1.0.0", "generic"},
    {"pexpire", -3, W | F, 1, 1, 1, cmd::PExpire,
     "Sets the expiration time of a key in milliseconds.", "2.6.0", "generic"},
    {"expireat", -3, W | F, 1, 1, 1, cmd::ExpireAt,
     "Sets the expiration time of a key to a Unix timestamp.", "1.2.0", "generic"},
    {"pexpireat", -3, W | F, 1, 1, 1, cmd::PExpireAt,
     "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0", "generic"},
    {"ttl", 2, R | F, 1, 1, 1, cmd::Ttl, "Returns the expiration time in seconds of a key.",
     "1.0.0", "generic"},
    {"pttl", 2, R | F, 1, 1, 1, cmd::PTtl, "Returns the expiration time in milliseconds of a key.",
     "2.6.0", "generic"},
    {"persist", 2, W | F, 1, 1, 1, cmd::Persist, "Removes the expiration time of a key.", "2.2.0",
     "generic"},
    {"keys", 2, R, 0, 0, 0, cmd::Keys, "Returns all key names that match a pattern.", "1.0.0",
     "generic"},
    {"scan", -2, R, 0, 0, 0, cmd::Scan, "Iterates over the key names in the database.", "2.8.0",
     "generic"},
    {"dbsize", 1, R | F, 0, 0, 0, cmd::DbSize, "Returns the number of keys in the database.",
     "1.0.0", "server"},
    {"flushdb", -1, W, 0, 0, 0, cmd::FlushDb, "Remove all keys from the current database.", "1.0.0",
     "server"},
    {"flushall", -1, W, 0, 0, 0, cmd::FlushDb, "Removes all keys from all databases.", "1.0.0",
     "server"},
    {"rename", 3, W, 1, 2, 1, cmd::Rename, "Renames a key and overwrites the destination.", "1.0.0",
     "generic"},
    {"renamenx", 3, W | F, 1, 2, 1, cmd::RenameNx,
     "Renames a key only when the target key name doesn't exist.", "1.0.0", "generic"},
    {"randomkey", 1, R, 0, 0, 0, cmd::RandomKey, "Returns a random key name from the database.",
     "1.0.0", "generic"},
    // connection and server
    {"ping", -1, F | LS, 0, 0, 0, cmd::Ping, "Returns the server's liveliness response.", "1.0.0",
     "connection"},
    {"echo", 2, F | LS, 0, 0, 0, cmd::Echo, "Returns the given string.", "1.0.0", "connection"},
    {"hello", -1, NS | LS | NA | F, 0, 0, 0, cmd::Hello, "Handshakes with the Redis server.",
     "6.0.0", "connection"},
    {"auth", -2, NS | LS | NA | F, 0, 0, 0, cmd::Auth, "Authenticates the connection.", "1.0.0",
     "connection"},
    {"quit", -1, NA | LS | F | NM, 0, 0, 0, cmd::Quit, "Closes the connection.", "1.0.0",
     "connection"},
    {"select", 2, LS | F, 0, 0, 0, cmd::Select, "Changes the selected database.", "1.0.0",
     "connection"},
    {"time", 1, LS | F, 0, 0, 0, cmd::Time, "Returns the server time.", "2.6.0", "server"},
    {"info", -1, LS, 0, 0, 0, cmd::Info, "Returns information and statistics about the server.",
     "1.0.0", "server"},
    {"config", -2, A | NS | LS, 0, 0, 0, cmd::Config,
     "A container for server configuration commands.", "2.0.0", "server"},
    {"client", -2, A | NS | LS, 0, 0, 0, cmd::Client, "A container for client connection commands.",
     "2.4.0", "connection"},
    {"debug", -2, A | NS | LS, 0, 0, 0, cmd::Debug, "A container for debugging commands.", "1.0.0",
     "server"},
    {"command", -1, LS, 0, 0, 0, cmd::Command, "Returns detailed information about all commands.",
     "2.8.13", "server"},
    // transactions
    {"multi", 1, NS | LS | F | NM, 0, 0, 0, cmd::Multi, "Starts a transaction.", "1.2.0",
     "transactions"},
    {"exec", 1, NS | LS | NM, 0, 0, 0, cmd::Exec, "Executes all commands in a transaction.",
     "1.2.0", "transactions"},
    {"discard", 1, NS | LS | F | NM, 0, 0, 0, cmd::Discard, "Discards a transaction.", "2.0.0",
     "transactions"},
    {"watch", -2, NS | LS | F | NM, 1, -1, 1, cmd::Watch,
     "Monitors changes to keys to determine the execution of a transaction.", "2.2.0",
     "transactions"},
    {"unwatch", 1, NS | LS | F, 0, 0, 0, cmd::Unwatch,
     "Forgets about watched keys of a transaction.", "2.2.0", "transactions"},
};

// The command index: every lookup is by a name the client sent, in any case,
// so it hashes the name folded to lower case as it reads it (no lowered
// copy) into a flat table probed linearly, and compares case-insensitively.
constexpr size_t kIndexSlots = 512;  // a power of two, over 4x the commands

inline char FoldCase(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// FNV-1a over the lower-cased bytes.
inline uint32_t NameHash(std::string_view name) {
  uint32_t h = 2166136261u;
  for (char c : name) h = (h ^ static_cast<uint8_t>(FoldCase(c))) * 16777619u;
  return h;
}

// REQUIRES: spec_name is lower case.
inline bool NameIs(std::string_view spec_name, std::string_view name) {
  if (spec_name.size() != name.size()) return false;
  for (size_t i = 0; i < name.size(); i++) {
    if (FoldCase(name[i]) != spec_name[i]) return false;
  }
  return true;
}

const std::vector<const CommandSpec*>& Index() {
  static const auto* index = [] {
    DKV_ASSERT(kCommands.size() * 2 < kIndexSlots);  // probes stay short
    auto* t = new std::vector<const CommandSpec*>(kIndexSlots, nullptr);
    for (const CommandSpec& c : kCommands) {
      DKV_ASSERT(c.arity != 0);
      DKV_ASSERT(ToLower(c.name) == c.name);
      size_t i = NameHash(c.name) & (kIndexSlots - 1);
      while ((*t)[i] != nullptr) {
        DKV_ASSERT(std::string_view((*t)[i]->name) != c.name);  // no duplicates
        i = (i + 1) & (kIndexSlots - 1);
      }
      (*t)[i] = &c;
    }
    return t;
  }();
  return *index;
}

}  // namespace

const std::vector<CommandSpec>& AllCommands() { return kCommands; }

const CommandSpec* FindCommand(std::string_view name) {
  if (name.size() > 32) return nullptr;
  const std::vector<const CommandSpec*>& index = Index();
  for (size_t i = NameHash(name) & (kIndexSlots - 1); index[i] != nullptr;
       i = (i + 1) & (kIndexSlots - 1)) {
    if (NameIs(index[i]->name, name)) return index[i];
  }
  return nullptr;
}

std::string UnknownCommandError(const std::vector<std::string>& argv) {
  // Redis: "unknown command '%.128s', with args beginning with: " then each
  // argument as "'%.*s' " while the list stays under 128 characters.
  std::string name = argv[0].substr(0, 128);
  std::string args;
  for (size_t i = 1; i < argv.size() && args.size() < 128; i++) {
    size_t room = 128 - args.size();
    args += "'" + argv[i].substr(0, room) + "' ";
  }
  return "ERR unknown command '" + name + "', with args beginning with: " + args;
}

std::string WrongArityError(std::string_view name) {
  return "ERR wrong number of arguments for '" + std::string(name) + "' command";
}

bool ArityOk(const CommandSpec& spec, size_t argc) {
  int n = static_cast<int>(argc);
  return spec.arity > 0 ? n == spec.arity : n >= -spec.arity;
}

void CommandContext::ReplyStatus(const Status& s) { reply->Error("ERR " + s.ToString()); }

void Dispatcher::Execute(ClientState* client, const std::vector<std::string>& argv,
                         ReplyBuilder* reply) {
  DKV_ASSERT(!argv.empty());
  commands_processed_++;
  const CommandSpec* spec = FindCommand(argv[0]);
  if (spec == nullptr) {
    if (client->in_multi) client->multi_dirty = true;
    reply->Error(UnknownCommandError(argv));
    return;
  }
  if (!ArityOk(*spec, argv.size())) {
    if (client->in_multi) client->multi_dirty = true;
    reply->Error(WrongArityError(spec->name));
    return;
  }
  if (!client->authenticated && !(spec->flags & kCmdNoAuth)) {
    reply->Error("NOAUTH Authentication required.");
    return;
  }
  client->last_command = spec->name;
  if (client->in_multi && !(spec->flags & kCmdNoMulti)) {
    client->queued.push_back(argv);
    reply->Simple("QUEUED");
    return;
  }
  if (spec->handler == cmd::Exec) {
    Exec(client, reply);
    return;
  }
  Call(spec, client, argv, reply);
}

void Dispatcher::Call(const CommandSpec* spec, ClientState* client,
                      const std::vector<std::string>& argv, ReplyBuilder* reply) {
  CommandContext ctx;
  ctx.spec = spec;
  ctx.argv = &argv;
  ctx.client = client;
  ctx.keyspace = keyspace_;
  ctx.reply = reply;
  ctx.server = server_;
  spec->handler(ctx);
}

void Dispatcher::Exec(ClientState* client, ReplyBuilder* reply) {
  if (!client->in_multi) {
    reply->Error("ERR EXEC without MULTI");
    return;
  }
  std::vector<std::vector<std::string>> queued;
  queued.swap(client->queued);
  bool aborted = client->multi_dirty;
  bool watch_failed = client->watch_dirty;
  // A watched key whose TTL passed since WATCH changed even if nothing has
  // deleted it yet (Redis 6.0.9+).
  for (const std::string& key : client->watched) {
    if (watch_failed) break;
    watch_failed = !client->watched_expired.count(key) && keyspace_->IsExpired(key);
  }
  client->in_multi = false;
  client->multi_dirty = false;
  server_->UnwatchAll(client);
  if (aborted) {
    reply->Error("EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  if (watch_failed) {
    reply->NullArray();
    return;
  }
  // Commands run back to back on the event loop: nothing else interleaves.
  // Their writes reach the engine as one batch, so a crash keeps all or none;
  // replies are built aside and replaced by the error if that write fails.
  std::string replies;
  ReplyBuilder inner(&replies, reply->protocol());
  inner.ArrayHeader(static_cast<int64_t>(queued.size()));
  keyspace_->BeginBatch();
  for (const auto& argv : queued) {
    const CommandSpec* spec = FindCommand(argv[0]);
    DKV_ASSERT(spec != nullptr);  // checked when queued
    Call(spec, client, argv, &inner);
  }
  Status s = keyspace_->CommitBatch();
  if (!s.ok()) {
    reply->Error("ERR " + s.ToString());
    return;
  }
  reply->out()->append(replies);
}

namespace cmd {

void Multi(CommandContext& ctx) {
  if (ctx.client->in_multi) {
    ctx.reply->Error("ERR MULTI calls can not be nested");
    return;
  }
  ctx.client->in_multi = true;
  ctx.client->multi_dirty = false;
  ctx.client->queued.clear();
  ctx.reply->Ok();
}

void Exec(CommandContext& ctx) { DKV_UNREACHABLE(); }

void Discard(CommandContext& ctx) {
  if (!ctx.client->in_multi) {
    ctx.reply->Error("ERR DISCARD without MULTI");
    return;
  }
  ctx.client->in_multi = false;
  ctx.client->multi_dirty = false;
  ctx.client->queued.clear();
  ctx.server->UnwatchAll(ctx.client);
  ctx.reply->Ok();
}

void Watch(CommandContext& ctx) {
  if (ctx.client->in_multi) {
    ctx.reply->Error("ERR WATCH inside MULTI is not allowed");
    return;
  }
  for (size_t i = 1; i < ctx.argc(); i++) {
    const std::string& key = ctx.arg(i);
    if (!ctx.client->watched.count(key) && ctx.keyspace->IsExpired(key)) {
      ctx.client->watched_expired.insert(key);
    }
    ctx.server->Watch(ctx.client, key);
  }
  ctx.reply->Ok();
}

void Unwatch(CommandContext& ctx) {
  ctx.server->UnwatchAll(ctx.client);
  ctx.reply->Ok();
}

}  // namespace cmd

}  // namespace dkv::server

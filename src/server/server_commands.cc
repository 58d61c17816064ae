// Handlers for connection and server commands: PING ECHO HELLO AUTH QUIT
// SELECT TIME INFO CONFIG CLIENT DEBUG COMMAND (Redis src/server.c,
// src/networking.c, src/config.c semantics).
#include <cctype>
#include <chrono>
#include <climits>
#include <thread>

#include "server/command_table.h"
#include "server/command_util.h"
#include "server/commands.h"
#include "server/limits.h"
#include "server/resp_parser.h"

namespace dkv::server::cmd {

namespace {

// The Redis version we present to clients that check it.
constexpr const char* kRedisCompatVersion = "7.0.0";

std::string ToUpperName(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

void UnknownSubcommand(CommandContext& ctx) {
  ctx.reply->Error("ERR unknown subcommand '" + ctx.arg(1).substr(0, 128) + "'. Try " +
                   ToUpperName(ctx.spec->name) + " HELP.");
}

}  // namespace

void Ping(CommandContext& ctx) {
  if (ctx.argc() > 2) return ctx.reply->Error(WrongArityError(ctx.spec->name));
  if (ctx.argc() == 2) return ctx.reply->Bulk(ctx.arg(1));
  ctx.reply->Simple("PONG");
}

void Echo(CommandContext& ctx) { ctx.reply->Bulk(ctx.arg(1)); }

void Hello(CommandContext& ctx) {
  int64_t ver = ctx.client->protocol;
  size_t i = 1;
  if (ctx.argc() >= 2) {
    if (!ParseInt64Strict(ctx.arg(1), &ver)) {
      return ctx.reply->Error("ERR Protocol version is not an integer or out of range");
    }
    i = 2;
    if (ver < 2 || ver > 3) return ctx.reply->Error("NOPROTO unsupported protocol version");
  }
  std::string new_name;
  bool set_name = false;
  for (; i < ctx.argc(); i++) {
    bool more = ctx.argc() - i - 1 >= 1;
    if (EqualsIgnoreCase(ctx.arg(i), "auth") && ctx.argc() - i - 1 >= 2) {
      if (!ctx.server->CheckPassword(ctx.arg(i + 1), ctx.arg(i + 2))) {
        return ctx.reply->Error("WRONGPASS invalid username-password pair or user is disabled.");
      }
      ctx.client->authenticated = true;
      ctx.client->user = ctx.arg(i + 1);
      i += 2;
    } else if (EqualsIgnoreCase(ctx.arg(i), "setname") && more) {
      new_name = ctx.arg(i + 1);
      set_name = true;
      i++;
    } else {
      return ctx.reply->Error("ERR Syntax error in HELLO option '" + ctx.arg(i) + "'");
    }
  }
  if (!ctx.client->authenticated) {
    return ctx.reply->Error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "<proto> AUTH <user> <pass> option can be used to authenticate the client and select the "
        "RESP protocol version at the same time");
  }
  if (set_name) ctx.client->name = new_name;
  ctx.client->protocol = static_cast<int>(ver);
  ctx.reply->set_protocol(ctx.client->protocol);
  ctx.reply->MapHeader(7);
  ctx.reply->Bulk("server");
  ctx.reply->Bulk("redis");
  ctx.reply->Bulk("version");
  ctx.reply->Bulk(kRedisCompatVersion);
  ctx.reply->Bulk("proto");
  ctx.reply->Integer(ver);
  ctx.reply->Bulk("id");
  ctx.reply->Integer(ctx.client->id);
  ctx.reply->Bulk("mode");
  ctx.reply->Bulk("standalone");
  ctx.reply->Bulk("role");
  ctx.reply->Bulk("master");
  ctx.reply->Bulk("modules");
  ctx.reply->ArrayHeader(0);
}

void Auth(CommandContext& ctx) {
  if (ctx.argc() > 3) return ctx.reply->Error(kErrSyntax);
  std::string user = ctx.argc() == 3 ? ctx.arg(1) : "default";
  const std::string& pass = ctx.arg(ctx.argc() - 1);
  if (ctx.argc() == 2 && ctx.server->NoPasswordConfigured()) {
    return ctx.reply->Error(
        "ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
  }
  if (!ctx.server->CheckPassword(user, pass)) {
    return ctx.reply->Error("WRONGPASS invalid username-password pair or user is disabled.");
  }
  ctx.client->authenticated = true;
  ctx.client->user = user;
  ctx.reply->Ok();
}

void Quit(CommandContext& ctx) {
  ctx.client->close_after_reply = true;
  ctx.reply->Ok();
}

void Select(CommandContext& ctx) {
  int64_t db = 0;
  if (!ParseInt64Strict(ctx.arg(1), &db) || db < INT32_MIN || db > INT32_MAX) {
    return ctx.reply->Error("ERR value is not an integer or out of range");
  }
  if (db != 0) return ctx.reply->Error("ERR DB index is out of range");
  ctx.reply->Ok();
}

void Time(CommandContext& ctx) {
  int64_t us = ctx.keyspace->NowMicros();
  ctx.reply->ArrayHeader(2);
  ctx.reply->Bulk(std::to_string(us / 1000000));
  ctx.reply->Bulk(std::to_string(us % 1000000));
}

void Info(CommandContext& ctx) {
  std::string section = ctx.argc() >= 2 ? ToLower(ctx.arg(1)) : "default";
  std::string text;
  if (ctx.argc() <= 2) {
    text = ctx.server->Info(section);
  } else {
    for (size_t i = 1; i < ctx.argc(); i++) {
      std::string part = ctx.server->Info(ToLower(ctx.arg(i)));
      if (!part.empty()) {
        if (!text.empty()) text += "\r\n";
        text += part;
      }
    }
  }
  ctx.reply->Verbatim(text);
}

void Config(CommandContext& ctx) {
  std::string sub = ToLower(ctx.arg(1));
  if (sub == "get") {
    if (ctx.argc() < 3) return ctx.reply->Error(WrongArityError("config|get"));
    std::vector<std::pair<std::string, std::string>> all;
    for (size_t i = 2; i < ctx.argc(); i++) {
      for (auto& kv : ctx.server->ConfigGet(ctx.arg(i))) {
        bool dup = false;
        for (auto& e : all) dup = dup || e.first == kv.first;
        if (!dup) all.push_back(std::move(kv));
      }
    }
    ctx.reply->MapHeader(static_cast<int64_t>(all.size()));
    for (auto& [k, v] : all) {
      ctx.reply->Bulk(k);
      ctx.reply->Bulk(v);
    }
  } else if (sub == "set") {
    if (ctx.argc() < 4 || ctx.argc() % 2 != 0) {
      return ctx.reply->Error(WrongArityError("config|set"));
    }
    for (size_t i = 2; i + 1 < ctx.argc(); i += 2) {
      Status s = ctx.server->ConfigSet(ToLower(ctx.arg(i)), ctx.arg(i + 1));
      if (s.IsNotFound()) {
        return ctx.reply->Error("ERR Unknown option or number of arguments for CONFIG SET - '" +
                                ctx.arg(i) + "'");
      }
      if (!s.ok()) {
        return ctx.reply->Error("ERR CONFIG SET failed (possibly related to argument '" +
                                ctx.arg(i) + "') - " + s.message());
      }
    }
    ctx.reply->Ok();
  } else if (sub == "resetstat" && ctx.argc() == 2) {
    ctx.reply->Ok();
  } else if (sub == "help") {
    ctx.reply->ArrayHeader(3);
    ctx.reply->Simple("CONFIG GET <pattern>");
    ctx.reply->Simple("CONFIG SET <directive> <value>");
    ctx.reply->Simple("CONFIG RESETSTAT");
  } else {
    UnknownSubcommand(ctx);
  }
}

namespace {

std::string ClientLine(ClientState* c, int64_t now_ms) {
  std::string line = "id=" + std::to_string(c->id) + " addr=" + c->addr + " laddr=" + c->laddr +
                     " name=" + c->name +
                     " age=" + std::to_string((now_ms - c->created_ms) / 1000) +
                     " idle=" + std::to_string((now_ms - c->last_interaction_ms) / 1000) +
                     " flags=" + (c->in_multi ? "x" : "N") +
                     " db=0 multi=" + (c->in_multi ? std::to_string(c->queued.size()) : "-1") +
                     " cmd=" + (c->last_command.empty() ? "NULL" : c->last_command) +
                     " user=" + c->user + " resp=" + std::to_string(c->protocol);
  return line;
}

bool ValidClientName(std::string_view name) {
  for (char ch : name) {
    if (ch < '!' || ch > '~') return false;  // Redis: no spaces, newlines, specials
  }
  return true;
}

}  // namespace

void Client(CommandContext& ctx) {
  std::string sub = ToLower(ctx.arg(1));
  int64_t now = ctx.keyspace->NowMs();
  if (sub == "id" && ctx.argc() == 2) {
    ctx.reply->Integer(ctx.client->id);
  } else if (sub == "setname" && ctx.argc() == 3) {
    if (!ValidClientName(ctx.arg(2))) {
      return ctx.reply->Error(
          "ERR Client names cannot contain spaces, newlines or special characters.");
    }
    ctx.client->name = ctx.arg(2);
    ctx.reply->Ok();
  } else if (sub == "getname" && ctx.argc() == 2) {
    if (ctx.client->name.empty()) return ctx.reply->Null();
    ctx.reply->Bulk(ctx.client->name);
  } else if (sub == "list") {
    std::string text;
    for (ClientState* c : ctx.server->Clients()) text += ClientLine(c, now) + "\n";
    ctx.reply->Verbatim(text);
  } else if (sub == "info" && ctx.argc() == 2) {
    ctx.reply->Verbatim(ClientLine(ctx.client, now) + "\n");
  } else if (sub == "kill" && ctx.argc() >= 3) {
    // Killing oneself closes after this reply (as Redis's
    // CLIENT_CLOSE_AFTER_REPLY), so the caller still hears it; others close
    // at once.
    auto kill = [&ctx](int64_t id) {
      if (id != ctx.client->id) return ctx.server->KillClient(id);
      ctx.client->close_after_reply = true;
      return true;
    };
    if (ctx.argc() == 3) {  // old form: CLIENT KILL addr:port
      for (ClientState* c : ctx.server->Clients()) {
        if (c->addr == ctx.arg(2)) {
          kill(c->id);
          return ctx.reply->Ok();
        }
      }
      return ctx.reply->Error("ERR No such client");
    }
    if (ctx.argc() % 2 != 0) return ctx.reply->Error(kErrSyntax);
    int64_t killed = 0;
    std::vector<int64_t> ids;
    for (ClientState* c : ctx.server->Clients()) {
      bool match = true;
      for (size_t i = 2; i + 1 < ctx.argc(); i += 2) {
        std::string f = ToLower(ctx.arg(i));
        if (f == "id") {
          int64_t id = 0;
          if (!ParseInt64Strict(ctx.arg(i + 1), &id) || id <= 0) {
            return ctx.reply->Error("ERR client-id should be greater than 0");
          }
          match = match && c->id == id;
        } else if (f == "addr") {
          match = match && c->addr == ctx.arg(i + 1);
        } else if (f == "laddr") {
          match = match && c->laddr == ctx.arg(i + 1);
        } else if (f == "user") {
          match = match && c->user == ctx.arg(i + 1);
        } else if (f == "skipme") {
          bool skip = EqualsIgnoreCase(ctx.arg(i + 1), "yes");
          if (!skip && !EqualsIgnoreCase(ctx.arg(i + 1), "no")) {
            return ctx.reply->Error(kErrSyntax);
          }
          if (skip) match = match && c != ctx.client;
        } else {
          return ctx.reply->Error(kErrSyntax);
        }
      }
      if (match) ids.push_back(c->id);
    }
    for (int64_t id : ids) killed += kill(id) ? 1 : 0;
    ctx.reply->Integer(killed);
  } else if (sub == "help") {
    ctx.reply->ArrayHeader(1);
    ctx.reply->Simple("CLIENT ID|SETNAME|GETNAME|LIST|INFO|KILL");
  } else {
    UnknownSubcommand(ctx);
  }
}

void Debug(CommandContext& ctx) {
  std::string sub = ToLower(ctx.arg(1));
  if (sub == "sleep" && ctx.argc() == 3) {
    long double secs = 0;
    if (!ParseLongDouble(ctx.arg(2), &secs)) return ctx.reply->Error(kErrNotFloat);
    if (secs < 0) secs = 0;
    if (secs > kMaxDebugSleepSeconds) secs = kMaxDebugSleepSeconds;
    // Blocks the event loop on purpose, as in Redis: a test aid.
    std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(secs * 1e6L)));
    ctx.reply->Ok();
  } else {
    UnknownSubcommand(ctx);
  }
}

namespace {

void FlagList(CommandContext& ctx, uint32_t flags) {
  static const std::pair<uint32_t, const char*> kNames[] = {
      {kCmdWrite, "write"},      {kCmdReadonly, "readonly"}, {kCmdDenyOom, "denyoom"},
      {kCmdAdmin, "admin"},      {kCmdNoScript, "noscript"}, {kCmdLoading, "loading"},
      {kCmdStale, "stale"},      {kCmdNoAuth, "no_auth"},    {kCmdFast, "fast"},
      {kCmdNoMulti, "no_multi"},
  };
  int n = 0;
  for (auto& [f, name] : kNames) n += (flags & f) ? 1 : 0;
  ctx.reply->SetHeader(n);
  for (auto& [f, name] : kNames) {
    if (flags & f) ctx.reply->Simple(name);
  }
}

void CommandInfo(CommandContext& ctx, const CommandSpec& c) {
  ctx.reply->ArrayHeader(10);
  ctx.reply->Bulk(c.name);
  ctx.reply->Integer(c.arity);
  FlagList(ctx, c.flags);
  ctx.reply->Integer(c.first_key);
  ctx.reply->Integer(c.last_key);
  ctx.reply->Integer(c.key_step);
  ctx.reply->SetHeader(1);  // ACL categories
  ctx.reply->Simple(std::string("@") + c.group);
  ctx.reply->SetHeader(0);    // tips
  ctx.reply->ArrayHeader(0);  // key specs
  ctx.reply->ArrayHeader(0);  // subcommands
}

void CommandDocs(CommandContext& ctx, const CommandSpec& c) {
  ctx.reply->Bulk(c.name);
  ctx.reply->MapHeader(3);
  ctx.reply->Bulk("summary");
  ctx.reply->Bulk(c.summary);
  ctx.reply->Bulk("since");
  ctx.reply->Bulk(c.since);
  ctx.reply->Bulk("group");
  ctx.reply->Bulk(c.group);
}

}  // namespace

void Command(CommandContext& ctx) {
  const auto& all = AllCommands();
  if (ctx.argc() == 1) {
    ctx.reply->ArrayHeader(static_cast<int64_t>(all.size()));
    for (const CommandSpec& c : all) CommandInfo(ctx, c);
    return;
  }
  std::string sub = ToLower(ctx.arg(1));
  if (sub == "count" && ctx.argc() == 2) {
    ctx.reply->Integer(static_cast<int64_t>(all.size()));
  } else if (sub == "info") {
    if (ctx.argc() == 2) {
      ctx.reply->ArrayHeader(static_cast<int64_t>(all.size()));
      for (const CommandSpec& c : all) CommandInfo(ctx, c);
      return;
    }
    ctx.reply->ArrayHeader(static_cast<int64_t>(ctx.argc() - 2));
    for (size_t i = 2; i < ctx.argc(); i++) {
      const CommandSpec* c = FindCommand(ctx.arg(i));
      if (c == nullptr) {
        ctx.reply->NullArray();
      } else {
        CommandInfo(ctx, *c);
      }
    }
  } else if (sub == "docs") {
    std::vector<const CommandSpec*> list;
    if (ctx.argc() == 2) {
      for (const CommandSpec& c : all) list.push_back(&c);
    } else {
      for (size_t i = 2; i < ctx.argc(); i++) {
        const CommandSpec* c = FindCommand(ctx.arg(i));
        if (c != nullptr) list.push_back(c);
      }
    }
    ctx.reply->MapHeader(static_cast<int64_t>(list.size()));
    for (const CommandSpec* c : list) CommandDocs(ctx, *c);
  } else if (sub == "list" && ctx.argc() == 2) {
    ctx.reply->ArrayHeader(static_cast<int64_t>(all.size()));
    for (const CommandSpec& c : all) ctx.reply->Bulk(c.name);
  } else {
    UnknownSubcommand(ctx);
  }
}

}  // namespace dkv::server::cmd

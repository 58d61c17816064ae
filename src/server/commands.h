// Handlers of the command table, one function per command. Internal to the
// server layer: only command_table.cc refers to them. See command.h for the
// rules a handler follows (runs on the event loop, replies through
// ctx.reply, never raw RESP).
#pragma once

#include "server/command.h"

namespace dkv::server::cmd {

// string_commands.cc
void Get(CommandContext& ctx);
void Set(CommandContext& ctx);
void SetNx(CommandContext& ctx);
void SetEx(CommandContext& ctx);
void PSetEx(CommandContext& ctx);
void GetSet(CommandContext& ctx);
void GetDel(CommandContext& ctx);
void GetEx(CommandContext& ctx);
void MGet(CommandContext& ctx);
void MSet(CommandContext& ctx);
void MSetNx(CommandContext& ctx);
void Incr(CommandContext& ctx);
void IncrBy(CommandContext& ctx);
void IncrByFloat(CommandContext& ctx);
void Decr(CommandContext& ctx);
void DecrBy(CommandContext& ctx);
void Append(CommandContext& ctx);
void StrLen(CommandContext& ctx);
void GetRange(CommandContext& ctx);
void SetRange(CommandContext& ctx);

// key_commands.cc
void Del(CommandContext& ctx);
void Exists(CommandContext& ctx);
void Type(CommandContext& ctx);
void Expire(CommandContext& ctx);
void PExpire(CommandContext& ctx);
void ExpireAt(CommandContext& ctx);
void PExpireAt(CommandContext& ctx);
void Ttl(CommandContext& ctx);
void PTtl(CommandContext& ctx);
void Persist(CommandContext& ctx);
void Keys(CommandContext& ctx);
void Scan(CommandContext& ctx);
void DbSize(CommandContext& ctx);
void FlushDb(CommandContext& ctx);
void Rename(CommandContext& ctx);
void RenameNx(CommandContext& ctx);
void RandomKey(CommandContext& ctx);

// server_commands.cc
void Ping(CommandContext& ctx);
void Echo(CommandContext& ctx);
void Hello(CommandContext& ctx);
void Auth(CommandContext& ctx);
void Quit(CommandContext& ctx);
void Select(CommandContext& ctx);
void Time(CommandContext& ctx);
void Info(CommandContext& ctx);
void Config(CommandContext& ctx);
void Client(CommandContext& ctx);
void Debug(CommandContext& ctx);
void Command(CommandContext& ctx);

// command_table.cc (transactions need the dispatcher)
void Multi(CommandContext& ctx);
void Exec(CommandContext& ctx);  // placeholder row; the dispatcher runs EXEC
void Discard(CommandContext& ctx);
void Watch(CommandContext& ctx);
void Unwatch(CommandContext& ctx);

}  // namespace dkv::server::cmd

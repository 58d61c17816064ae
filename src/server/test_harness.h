// Test harness for the command layer: a MemEngine keyspace, a settable clock,
// a fake ServerApi and a dispatcher, driven by argument vectors and checked
// against the raw RESP replies. Tests only; single-threaded.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "server/command_table.h"
#include "server/kv_engine.h"
#include "server/watch_table.h"

namespace dkv::server {

class FakeClock final : public Clock {
 public:
  int64_t NowMicros() override { return now_us; }
  int64_t MonotonicMicros() override { return now_us; }
  int64_t now_us = 1700000000000000;  // 2023-11-14
};

class FakeServerApi final : public ServerApi {
 public:
  std::vector<ClientState*> Clients() override { return clients; }
  bool KillClient(int64_t id) override {
    for (ClientState* c : clients) {
      if (c->id == id) {
        c->killed = true;
        return true;
      }
    }
    return false;
  }
  std::vector<std::pair<std::string, std::string>> ConfigGet(std::string_view pattern) override {
    std::vector<std::pair<std::string, std::string>> out;
    if (GlobMatch(pattern, "maxclients", true)) out.emplace_back("maxclients", maxclients);
    return out;
  }
  Status ConfigSet(std::string_view name, std::string_view value) override {
    if (name == "port") return Status::InvalidArgument("can't set immutable config");
    if (name != "maxclients") return Status::NotFound("config", "unknown option");
    maxclients = std::string(value);
    return Status::OK();
  }
  std::string Info(std::string_view section) override {
    return "# Server\r\nredis_version:7.0.0\r\n";
  }
  bool CheckPassword(std::string_view user, std::string_view password) override {
    return user == "default" && !password_.empty() && password == password_;
  }
  bool NoPasswordConfigured() override { return password_.empty(); }
  void Watch(ClientState* client, const std::string& key) override { watches.Watch(client, key); }
  void UnwatchAll(ClientState* client) override { watches.UnwatchAll(client); }

  std::vector<ClientState*> clients;
  std::string maxclients = "10000";
  std::string password_;
  WatchTable watches;
};

struct Harness {
  Harness() : keyspace(&engine, &clock), dispatcher(&keyspace, &api) {
    keyspace.set_on_change([this](std::string_view k) { api.watches.Touch(k); });
    client.id = 1;
    client.authenticated = true;
    client.addr = "127.0.0.1:5000";
    other.id = 2;
    other.authenticated = true;
    other.addr = "127.0.0.1:5001";
    api.clients = {&client, &other};
  }
  // Runs one command as `c` (default: client) and returns the raw reply.
  std::string Run(const std::vector<std::string>& argv, ClientState* c = nullptr) {
    if (c == nullptr) c = &client;
    std::string out;
    ReplyBuilder rb(&out, c->protocol);
    dispatcher.Execute(c, argv, &rb);
    return out;
  }

  MemEngine engine;
  FakeClock clock;
  Keyspace keyspace;
  FakeServerApi api;
  Dispatcher dispatcher;
  ClientState client;
  ClientState other;
};

}  // namespace dkv::server

// The command table and the dispatcher.
//
// Every command is one CommandSpec row (command_table.cc); the dispatcher
// finds the row by name (case-insensitive), checks arity and authentication
// with Redis's error texts, queues commands inside MULTI, and calls the
// handler. COMMAND, COMMAND COUNT/INFO/DOCS/LIST are generated from the
// table. The table is immutable after static initialisation; a Dispatcher
// belongs to the event-loop thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/command.h"

namespace dkv::server {

const std::vector<CommandSpec>& AllCommands();
// nullptr if unknown. Case-insensitive.
const CommandSpec* FindCommand(std::string_view name);

// The text Redis replies for an unknown command (without the leading '-').
std::string UnknownCommandError(const std::vector<std::string>& argv);
std::string WrongArityError(std::string_view name);
bool ArityOk(const CommandSpec& spec, size_t argc);

class Dispatcher {
 public:
  Dispatcher(Keyspace* keyspace, ServerApi* server) : keyspace_(keyspace), server_(server) {}

  // Runs (or, inside MULTI, queues) one command and appends its reply.
  // REQUIRES: !argv.empty()
  void Execute(ClientState* client, const std::vector<std::string>& argv, ReplyBuilder* reply);

  // Total commands processed, for INFO.
  int64_t commands_processed() const { return commands_processed_; }

 private:
  void Call(const CommandSpec* spec, ClientState* client, const std::vector<std::string>& argv,
            ReplyBuilder* reply);
  void Exec(ClientState* client, ReplyBuilder* reply);

  Keyspace* keyspace_;
  ServerApi* server_;
  int64_t commands_processed_ = 0;
};

}  // namespace dkv::server

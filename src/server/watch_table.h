// WatchTable: which clients WATCH which keys, so a write to a key can mark
// their transactions dirty (EXEC then replies null), as Redis's watched_keys
// dict does. Owned by the server; event-loop thread only.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "server/command.h"

namespace dkv::server {

class WatchTable {
 public:
  void Watch(ClientState* client, const std::string& key) {
    if (client->watched.insert(key).second) by_key_[key].insert(client);
  }
  void UnwatchAll(ClientState* client) {
    for (const std::string& key : client->watched) {
      auto it = by_key_.find(key);
      if (it == by_key_.end()) continue;
      it->second.erase(client);
      if (it->second.empty()) by_key_.erase(it);
    }
    client->watched.clear();
    client->watched_expired.clear();
    client->watch_dirty = false;
  }
  // Called for every changed key.
  void Touch(std::string_view key) {
    if (by_key_.empty()) return;
    auto it = by_key_.find(std::string(key));
    if (it == by_key_.end()) return;
    for (ClientState* c : it->second) c->watch_dirty = true;
  }

 private:
  std::unordered_map<std::string, std::unordered_set<ClientState*>> by_key_;
};

}  // namespace dkv::server

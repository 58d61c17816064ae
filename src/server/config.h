// ServerConfig: everything distkv-server can be told, from a TOML file
// (`--config path`) overridden by command-line flags. Names follow Redis's
// redis.conf where Redis has the same knob. A plain value; copy freely.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "server/limits.h"

namespace dkv::server {

enum class AppendFsync { kAlways, kEverySec, kNo };
const char* AppendFsyncName(AppendFsync a);
bool ParseAppendFsync(std::string_view s, AppendFsync* out);

struct UserEntry {
  std::string name;
  std::string password;
};

struct ServerConfig {
  std::string bind = "127.0.0.1";
  int port = 7379;
  std::string dir = "./distkv-data";
  std::string config_file;
  AppendFsync appendfsync = AppendFsync::kAlways;
  std::string requirepass;       // empty: the default user needs no password
  std::vector<UserEntry> users;  // extra ACL users (AUTH user pass)
  bool protected_mode = true;    // no password: only loopback clients
  int maxclients = kDefaultMaxClients;
  int timeout_s = 0;  // idle clients closed after this; 0 = never
  int64_t proto_max_bulk_len = kDefaultProtoMaxBulkLen;
  int64_t client_query_buffer_limit = kDefaultClientQueryBufferLimit;
  int64_t client_output_buffer_limit = kDefaultClientOutputBufferLimit;
  // Budget of the cache of decoded values in front of the engine's point
  // reads (written through by every write); 0 = off.
  int64_t value_cache_size = static_cast<int64_t>(kValueCacheBytes);
  std::string loglevel = "info";  // spdlog level names
  int admin_port = 0;             // HTTP /metrics and /health; 0 = off
  int tls_port = 0;               // RESP over TLS; 0 = off
  std::string tls_cert_file;      // PEM certificate chain
  std::string tls_key_file;       // PEM private key
};

// Reads a TOML file into *config (keys as in ServerConfig, with '-' or '_').
Status LoadTomlConfig(const std::string& path, ServerConfig* config);

}  // namespace dkv::server

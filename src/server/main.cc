// distkv-server: one DistKV node speaking RESP (issue #4). Reads a TOML
// config and flags, opens the storage engine in --dir, serves until SIGTERM
// or SIGINT, then syncs and exits 0.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <limits>

#include "server/config.h"
#include "server/db_engine.h"
#include "server/server.h"
#ifdef DKV_HAVE_RUNTIME
#include "runtime/cluster_server.h"
#endif

int main(int argc, char** argv) {
  using dkv::server::ServerConfig;
  ServerConfig config;
  std::string config_path;
  CLI::App app{"distkv-server: a DistKV node speaking the Redis protocol"};
  app.add_option("-c,--config", config_path, "TOML config file (flags override it)");
  // Flags are parsed twice: first to find --config, then to override it.
  std::string bind, dir, appendfsync, requirepass, loglevel, protected_mode;
  int port = -1, maxclients = -1, timeout = -1, admin_port = -1, tls_port = -1;
  std::string tls_cert, tls_key;
  int64_t proto_max_bulk_len = -1, query_limit = -1, value_cache_size = -1;
  app.add_option("--bind", bind, "address to listen on (default 127.0.0.1)");
  app.add_option("--port", port, "client port (default 7379; 0 picks a free one)");
  app.add_option("--dir", dir, "data directory");
  app.add_option("--appendfsync", appendfsync, "always | everysec | no");
  app.add_option("--requirepass", requirepass, "password of the default user");
  app.add_option("--protected-mode", protected_mode, "yes | no");
  app.add_option("--maxclients", maxclients, "max connected clients");
  app.add_option("--timeout", timeout, "close clients idle this many seconds (0 = never)");
  app.add_option("--proto-max-bulk-len", proto_max_bulk_len, "largest bulk argument in bytes");
  app.add_option("--client-query-buffer-limit", query_limit, "max unparsed bytes per client");
  app.add_option("--value-cache-size", value_cache_size,
                 "bytes of decoded values cached for reads (default 64 MiB; 0 = off)")
      ->check(CLI::Range(int64_t{0}, std::numeric_limits<int64_t>::max()));
  app.add_option("--loglevel", loglevel, "trace|debug|info|warn|error|critical");
  app.add_option("--admin-port", admin_port, "HTTP port for /metrics and /health (0 = off)");
  app.add_option("--tls-port", tls_port, "RESP over TLS port (0 = off)");
  app.add_option("--tls-cert-file", tls_cert, "PEM certificate chain for the TLS port");
  app.add_option("--tls-key-file", tls_key, "PEM private key for the TLS port");
  // Cluster mode (issue #5, src/runtime): the node's addresses, data dir and
  // Raft timing come from the cluster TOML; --bind/--port/--dir are ignored.
  std::string cluster_config;
  uint64_t node_id = 0;
  app.add_option("--cluster-config", cluster_config, "cluster TOML: run as a cluster node");
  app.add_option("--node-id", node_id, "this node's id in the cluster config");
  bool join = false;
  app.add_flag("--join", join,
               "cluster mode: found no shard, wait to be added (empty-disk replacement)");
  CLI11_PARSE(app, argc, argv);
  if (!cluster_config.empty()) {
#ifdef DKV_HAVE_RUNTIME
    if (!loglevel.empty()) spdlog::set_level(spdlog::level::from_str(loglevel));
    dkv::Status cs = dkv::runtime::RunClusterNode(cluster_config, node_id, join, requirepass);
    if (!cs.ok()) {
      spdlog::critical("cluster node {}: {}", node_id, cs.ToString());
      return 1;
    }
    return 0;
#else
    std::cerr << "this distkv-server was built without the cluster runtime (src/runtime)\n";
    return 2;
#endif
  }

  if (!config_path.empty()) {
    dkv::Status s = dkv::server::LoadTomlConfig(config_path, &config);
    if (!s.ok()) {
      std::cerr << s.ToString() << "\n";
      return 2;
    }
  }
  if (!bind.empty()) config.bind = bind;
  if (port >= 0) config.port = port;
  if (!dir.empty()) config.dir = dir;
  if (!appendfsync.empty() && !dkv::server::ParseAppendFsync(appendfsync, &config.appendfsync)) {
    std::cerr << "--appendfsync must be always, everysec or no\n";
    return 2;
  }
  if (!requirepass.empty()) config.requirepass = requirepass;
  if (!protected_mode.empty()) config.protected_mode = protected_mode == "yes";
  if (maxclients > 0) config.maxclients = maxclients;
  if (timeout >= 0) config.timeout_s = timeout;
  if (proto_max_bulk_len > 0) config.proto_max_bulk_len = proto_max_bulk_len;
  if (query_limit > 0) config.client_query_buffer_limit = query_limit;
  if (value_cache_size >= 0) config.value_cache_size = value_cache_size;
  if (!loglevel.empty()) config.loglevel = loglevel;
  if (admin_port >= 0) config.admin_port = admin_port;
  if (tls_port >= 0) config.tls_port = tls_port;
  if (!tls_cert.empty()) config.tls_cert_file = tls_cert;
  if (!tls_key.empty()) config.tls_key_file = tls_key;
  spdlog::set_level(spdlog::level::from_str(config.loglevel));

  auto engine = dkv::server::DbEngine::Open(config.dir);
  if (!engine.ok()) {
    spdlog::critical("cannot open the data directory {}: {}", config.dir,
                     engine.status().ToString());
    return 1;
  }
  dkv::Status s;
  {
    dkv::server::Server server(config, engine->get());
    s = server.Run();
  }
  if (!s.ok()) {
    spdlog::critical("{}", s.ToString());
    return 1;
  }
  return 0;
}

#include "server/config.h"

#include <toml++/toml.h>

namespace dkv::server {

const char* AppendFsyncName(AppendFsync a) {
  switch (a) {
    case AppendFsync::kAlways:
      return "always";
    case AppendFsync::kEverySec:
      return "everysec";
    case AppendFsync::kNo:
      return "no";
  }
  return "always";
}

bool ParseAppendFsync(std::string_view s, AppendFsync* out) {
  if (s == "always") {
    *out = AppendFsync::kAlways;
  } else if (s == "everysec") {
    *out = AppendFsync::kEverySec;
  } else if (s == "no") {
    *out = AppendFsync::kNo;
  } else {
    return false;
  }
  return true;
}

namespace {

// Looks a key up under its Redis spelling ("proto-max-bulk-len") or the
// TOML-friendly one ("proto_max_bulk_len").
toml::node_view<toml::node> Find(toml::table& t, std::string name) {
  if (auto n = t[name]) return n;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return t[name];
}

}  // namespace

Status LoadTomlConfig(const std::string& path, ServerConfig* c) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument("config " + path, std::string(e.description()));
  }
  c->config_file = path;
  if (auto v = Find(t, "bind").value<std::string>()) c->bind = *v;
  if (auto v = Find(t, "port").value<int64_t>()) c->port = static_cast<int>(*v);
  if (auto v = Find(t, "dir").value<std::string>()) c->dir = *v;
  if (auto v = Find(t, "appendfsync").value<std::string>()) {
    if (!ParseAppendFsync(*v, &c->appendfsync)) {
      return Status::InvalidArgument("config " + path, "appendfsync must be always|everysec|no");
    }
  }
  if (auto v = Find(t, "requirepass").value<std::string>()) c->requirepass = *v;
  if (auto v = Find(t, "protected-mode").value<bool>()) c->protected_mode = *v;
  if (auto v = Find(t, "maxclients").value<int64_t>()) c->maxclients = static_cast<int>(*v);
  if (auto v = Find(t, "timeout").value<int64_t>()) c->timeout_s = static_cast<int>(*v);
  if (auto v = Find(t, "proto-max-bulk-len").value<int64_t>()) c->proto_max_bulk_len = *v;
  if (auto v = Find(t, "client-query-buffer-limit").value<int64_t>()) {
    c->client_query_buffer_limit = *v;
  }
  if (auto v = Find(t, "client-output-buffer-limit").value<int64_t>()) {
    c->client_output_buffer_limit = *v;
  }
  if (auto v = Find(t, "value-cache-size").value<int64_t>()) {
    if (*v < 0) return Status::InvalidArgument("config " + path, "value-cache-size must be >= 0");
    c->value_cache_size = *v;
  }
  if (auto v = Find(t, "loglevel").value<std::string>()) c->loglevel = *v;
  if (auto v = Find(t, "admin-port").value<int64_t>()) c->admin_port = static_cast<int>(*v);
  if (auto v = Find(t, "tls-port").value<int64_t>()) c->tls_port = static_cast<int>(*v);
  if (auto v = Find(t, "tls-cert-file").value<std::string>()) c->tls_cert_file = *v;
  if (auto v = Find(t, "tls-key-file").value<std::string>()) c->tls_key_file = *v;
  if (auto* users = t["users"].as_array()) {
    for (auto& u : *users) {
      auto* ut = u.as_table();
      if (ut == nullptr)
        return Status::InvalidArgument("config " + path, "users entries must be tables");
      UserEntry e;
      e.name = (*ut)["name"].value_or(std::string());
      e.password = (*ut)["password"].value_or(std::string());
      if (e.name.empty()) return Status::InvalidArgument("config " + path, "user without a name");
      c->users.push_back(std::move(e));
    }
  }
  if (c->port < 0 || c->port > 65535) return Status::InvalidArgument("config " + path, "bad port");
  if (c->maxclients < 1) return Status::InvalidArgument("config " + path, "maxclients < 1");
  return Status::OK();
}

}  // namespace dkv::server

#include "runtime/cluster_server.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <map>
#include <memory>

#include "cluster/cluster_config.h"
#include "cluster/node_plan.h"
#include "runtime/admin_commands.h"
#include "runtime/admin_founding.h"
#include "runtime/cluster_commands.h"
#include "runtime/cluster_connection.h"
#include "runtime/limits.h"
#include "runtime/node_runtime.h"
#include "runtime/shard_router.h"
#ifdef DKV_RUNTIME_HAVE_ADMIN
#include "server/admin_http.h"
#endif

namespace dkv::runtime {

namespace {

// The client side: acceptor and connections, on the raft loop's io_context.
class ClientListener {
 public:
  ClientListener(asio::io_context* io, ClusterCommands* commands)
      : io_(io), acceptor_(*io), commands_(commands) {}

  Status Listen(const std::string& host, uint16_t port) {
    asio::error_code ec;
    const asio::ip::address addr = asio::ip::make_address(host, ec);
    if (ec) return Status::InvalidArgument("client address " + host, ec.message());
    const asio::ip::tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::IOError("listen on " + host + ":" + std::to_string(port), ec.message());
    }
    Accept();
    return Status::OK();
  }

  void Shutdown() {
    asio::error_code ec;
    acceptor_.close(ec);
    auto conns = std::move(conns_);
    for (auto& [id, c] : conns) c->Close();
  }

 private:
  void Accept() {
    acceptor_.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        // EMFILE and friends: wait a little instead of spinning.
        auto timer = std::make_shared<asio::steady_timer>(*io_, std::chrono::milliseconds(100));
        timer->async_wait([this, timer](const asio::error_code& e) {
          if (!e) Accept();
        });
        return;
      }
      if (conns_.size() >= kMaxClients) {
        asio::error_code ignored;
        socket.close(ignored);
      } else {
        const int64_t id = next_id_++;
        auto conn = std::make_shared<ClusterConnection>(std::move(socket), commands_, id,
                                                        [this](int64_t id) { conns_.erase(id); });
        conns_.emplace(id, conn);
        conn->Start();
      }
      Accept();
    });
  }

  asio::io_context* io_;
  asio::ip::tcp::acceptor acceptor_;
  ClusterCommands* commands_;
  int64_t next_id_ = 1;
  std::map<int64_t, std::shared_ptr<ClusterConnection>> conns_;
};

}  // namespace

Status RunClusterNode(const std::string& config_path, uint64_t node_id, bool join,
                      const std::string& requirepass) {
  DKV_ASSIGN_OR_RETURN(cluster::ClusterConfig config, cluster::LoadClusterConfig(config_path));
  DKV_ASSIGN_OR_RETURN(cluster::NodePlan plan, cluster::PlanForNode(config, node_id));
  DKV_ASSIGN_OR_RETURN(sharding::ShardMap map, config.InitialShardMap());

  // Found the initial placement only on a first start (docs/runtime.md,
  // "Start and restart"); refuse a wiped data dir in an existing cluster.
  DKV_ASSIGN_OR_RETURN(
      StartMode mode,
      DecideStartMode(GatherFoundingFacts(config, plan.data_dir, join), node_id, plan.data_dir));
  NodeRuntimeOptions options;
  options.plan = plan;
  options.found_initial_placement = mode == StartMode::kFound;
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<NodeRuntime> runtime, NodeRuntime::Open(options));
  DKV_RETURN_IF_ERROR(FoundMetadataGroup(mode, plan, &runtime->node()));
  if (mode != StartMode::kRecover) {
    // Founded (or joined empty) durably: from now on this data dir never
    // founds again, so removed replicas stay removed across restarts.
    DKV_RETURN_IF_ERROR(WriteFoundedMarker(plan.data_dir, config.cluster_id, node_id));
  }
  if (mode == StartMode::kJoin) {
    spdlog::warn(
        "node {} started with --join: it founds no shard; give it replicas with `distkv shard "
        "add-replica` (DKV.ADDREPLICA)",
        node_id);
  }
  ShardRouter router(runtime.get(), map);
  ClusterCommands commands(runtime.get(), &router);
  commands.SetRequirePass(requirepass);
  AdminService admin_service(runtime.get(), &router, config);
  commands.SetAdmin(&admin_service);
  router.SetAdminServer([&admin_service](NodeId from, ShardId shard, std::vector<std::string> args,
                                         std::function<void(std::string)> respond) {
    admin_service.Serve(from, shard, std::move(args), std::move(respond));
  });

  // The client sockets run on the raft loop, as the peer sockets do: one
  // thread per node does all of its work, so a command costs no thread
  // hand-off on its way to its shard or back (docs/runtime.md, "Threads").
  // The main thread below runs only signals and the admin HTTP port.
  auto listener = std::make_unique<ClientListener>(&runtime->io(), &commands);
  DKV_RETURN_IF_ERROR(listener->Listen(plan.client_host, plan.client_port));
  asio::io_context io;
#ifdef DKV_RUNTIME_HAVE_ADMIN
  // /health and /metrics on the admin port, as the standalone server has
  // (`distkv cluster status` asks /health); /metrics: NodeRuntime::MetricsText.
  server::AdminHttp admin(io, [rt = runtime.get()] { return rt->MetricsText(); });
  if (plan.admin_port != 0) DKV_RETURN_IF_ERROR(admin.Start(plan.client_host, plan.admin_port));
#endif
  runtime->Run([&router](NodeId from, ShardId shard, std::vector<std::string> args,
                         std::function<void(std::string)> respond) {
    router.ServeForward(from, shard, std::move(args), std::move(respond));
  });
  runtime->Post([&admin_service] { admin_service.Start(); });
  spdlog::info("cluster node {} of '{}': clients on {}:{}, peers on {}:{}, {} shard replicas",
               plan.self, plan.cluster_id, plan.client_host, plan.client_port, plan.peer_host,
               plan.peer_port, plan.hosted_shards.size());

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const asio::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: stopping", sig);
    runtime->Post([l = listener.get()] { l->Shutdown(); });
#ifdef DKV_RUNTIME_HAVE_ADMIN
    admin.Stop();
#endif
    io.stop();
  });
  io.run();
  // The loop runs the listener's Shutdown (posted above) before it stops.
  // Handlers still queued there (replies on their way, closing connections)
  // are dropped with the runtime's io_context; the listener's own sockets go
  // first, while that io_context still exists.
  runtime->Stop();
  listener.reset();
  runtime.reset();
  return Status::OK();
}

}  // namespace dkv::runtime

// FaultProxy: a fault-injecting TCP proxy between the nodes of a test cluster,
// the partition tool for machines without network namespaces (issue #5).
//
// Each link is one direction of a node pair: node `from` dials node `to` through
// a local listening port of the proxy, which forwards every accepted connection
// to `to`'s real peer port. The transport dials each peer itself (one
// connection per direction, docs/formats/rpc.md), so cutting link (a, b) stops
// exactly what a sends to b. A link can be cut (bytes are read and dropped
// silently: the sender sees no error and no reset, as with a drop rule),
// delayed (bytes are held for a fixed time, in order), or healed. A connection
// that lost bytes can never carry a valid frame stream again, so healing a link
// closes those connections and the nodes redial, as after a real partition
// whose TCP connections timed out.
//
// The proxy owns one network thread that runs every link and connection. All
// public methods are thread-safe and take effect before they return. Tests only.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "common/status.h"

namespace dkv::faults {

// Bytes a delayed direction of one connection may hold before it stops reading
// (TCP back-pressure to the sender): bounds memory when a delayed link carries
// a burst, and 8 MiB is several seconds of the test clusters' traffic.
inline constexpr size_t kMaxDelayedBytesPerDirection = 8u << 20;
// One read from a socket; the transport's frames are usually far smaller.
inline constexpr size_t kProxyChunkBytes = 64u << 10;

// (from, to): node `from` sends to node `to` over this link.
using LinkId = std::pair<uint64_t, uint64_t>;

struct LinkFaults {
  bool cut = false;                    // drop every byte silently
  std::chrono::milliseconds delay{0};  // hold every byte this long (in order)
};

struct LinkStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_closed_on_heal = 0;  // lost bytes while cut, closed by Heal
  uint64_t bytes_forwarded = 0;             // both byte directions
  uint64_t bytes_dropped = 0;
};

class FaultProxy {
 public:
  // Starts the network thread; no link yet.
  FaultProxy();
  // Closes every listener and connection and joins the thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Listens on listen_host:0 for link `link` and forwards each connection to
  // target_host:target_port. Returns the port to give `link.first` as
  // `link.second`'s peer address. InvalidArgument for a link added twice or a
  // bad address; IOError if the port cannot be bound.
  Result<uint16_t> AddLink(LinkId link, const std::string& listen_host,
                           const std::string& target_host, uint16_t target_port);

  // Replaces the faults of `link`. When the link is no longer cut, its
  // connections that dropped bytes are closed (their frame streams are broken).
  // REQUIRES: the link was added.
  void Set(LinkId link, LinkFaults faults);
  void Cut(LinkId link) { Set(link, LinkFaults{.cut = true}); }
  void Heal(LinkId link) { Set(link, LinkFaults{}); }
  void Delay(LinkId link, std::chrono::milliseconds delay) {
    Set(link, LinkFaults{.delay = delay});
  }

  // Cuts (or heals) every link from and to `node`: a partition of that node
  // from all others, silent in both directions.
  void Isolate(uint64_t node);
  // Heals every link.
  void HealAll();

  // REQUIRES: the link was added.
  LinkStats Stats(LinkId link) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dkv::faults

// Conversions between the raft/node value types and their protobuf messages
// (proto/distkv.proto, docs/formats/rpc.md).
//
// Encoding cannot fail. Decoding checks everything the raft core assumes of a
// message (known message and entry types, sorted disjoint membership lists, an
// entry count within raft's limit) and returns Corruption when a peer sends
// something else, so no byte from the network can trip a raft assertion.
// Stateless functions; thread-safe.
#pragma once

#include "common/status.h"
#include "node/transport.h"
#include "proto/distkv.pb.h"
#include "raft/types.h"

namespace dkv::transport {

void ToProto(const raft::Message& msg, rpc::RaftMessage* out);
Result<raft::Message> FromProto(const rpc::RaftMessage& msg);

void ToProto(const node::MessageBatch& batch, rpc::RaftBatch* out);
Result<node::MessageBatch> FromProto(const rpc::RaftBatch& batch);

}  // namespace dkv::transport

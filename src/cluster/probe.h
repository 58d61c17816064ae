// Probes: tiny blocking clients the distkv tool uses to ask a node whether it
// is up — one RESP command (PING, INFO) on the client port, one HTTP GET on
// the admin port. Each call opens its own loopback-or-remote TCP connection,
// bounds every wait by a timeout, and closes it; no state, so calls may run on
// any thread. Not a general client: replies are read whole into memory up to
// kMaxProbeReplyBytes.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace dkv::cluster {

// INFO of a healthy node is a few KiB; anything near this is not a reply we
// want to hold.
inline constexpr size_t kMaxProbeReplyBytes = 1 << 20;

// Sends argv as one RESP array and returns the reply's payload: the text of a
// simple string or bulk string; "(nil)" for a null. A RESP error reply
// becomes Status::Aborted with the error text. Unavailable if the connection
// fails, TimedOut if the node does not answer within timeout_ms.
Result<std::string> RespCall(const std::string& host, int port,
                             const std::vector<std::string>& argv, int timeout_ms);

// Like RespCall for commands that answer an array of bulk strings
// (DKV.STATUS, DKV.SHARDS): the strings in order. Corruption for any other
// reply shape; a RESP error is Aborted with its text.
Result<std::vector<std::string>> RespCallLines(const std::string& host, int port,
                                               const std::vector<std::string>& argv,
                                               int timeout_ms);

// GET path over HTTP/1.0; returns the status code and fills *body.
Result<int> HttpGet(const std::string& host, int port, const std::string& path, int timeout_ms,
                    std::string* body);

// Parses INFO text ("key:value" lines, "# Section" headers) into a map.
std::map<std::string, std::string> ParseInfo(const std::string& info);

}  // namespace dkv::cluster

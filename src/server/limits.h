// Named limits of the RESP server, each with the reason for its number.
//
// Owned by the server layer (src/server). Constants only; safe everywhere.
// The configurable ones are defaults of ServerConfig (config.h), which may
// lower or raise them within the hard bounds stated here.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::server {

// Redis's proto-max-bulk-len default: the largest single argument (512 MiB).
inline constexpr int64_t kDefaultProtoMaxBulkLen = 512LL << 20;
// Redis's client-query-buffer-limit default (1 GiB): the most unparsed input
// one client may hold before it is disconnected.
inline constexpr int64_t kDefaultClientQueryBufferLimit = 1LL << 30;
// Redis's limit on the element count of one multibulk request.
inline constexpr int64_t kMaxMultibulkLen = 1024LL * 1024 * 1024;
// Redis's PROTO_INLINE_MAX_SIZE: an inline command line longer than this is
// "too big inline request" (64 KiB).
inline constexpr size_t kInlineMaxSize = 64 * 1024;
// Lengths are never preallocated beyond this, so a client announcing a huge
// bulk or many elements costs memory only as bytes really arrive.
inline constexpr size_t kMaxPreallocBytes = 1 << 20;
inline constexpr size_t kMaxPreallocArgs = 1024;
// Redis 7's limits for clients that have not authenticated yet (when a
// password is set): a few arguments of modest size are enough for AUTH/HELLO.
inline constexpr int64_t kUnauthenticatedMaxArgs = 10;
inline constexpr int64_t kUnauthenticatedMaxBulkLen = 16384;
// Bytes read from a socket per read call (Redis's PROTO_IOBUF_LEN is 16 KiB;
// larger reads serve pipelined clients with fewer wakeups).
inline constexpr size_t kReadChunkBytes = 64 * 1024;
// Commands one client runs before the loop serves others (fairness with
// deep pipelines; Redis processes a whole read, ours is at most 64 KiB).
inline constexpr int kMaxCommandsPerRound = 1000;
// Default cap on a client's pending output (Redis's normal-client hard limit
// is unlimited; we bound memory: a client that stops reading is closed).
inline constexpr size_t kDefaultClientOutputBufferLimit = 256u << 20;
// Unsent reply bytes at which a client's input is paused until it reads
// most of them (back-pressure before the hard output limit closes it).
inline constexpr size_t kOutputPauseBytes = 4u << 20;
// Default maximum connected clients (Redis's maxclients).
inline constexpr int kDefaultMaxClients = 10000;
// Keys the active expiry cycle deletes per run, so one cycle never stalls the
// event loop for long (Redis bounds it by time; we bound it by work).
inline constexpr int kActiveExpireKeysPerCycle = 200;
// Interval between active expiry cycles (Redis's hz 10).
inline constexpr int kActiveExpireIntervalMs = 100;
// SCAN's default COUNT, as in Redis.
inline constexpr int kScanDefaultCount = 10;
// SCAN cursors remembered (each holds one resume key): a client that pauses
// for more than this many other SCAN calls must restart its scan.
inline constexpr size_t kMaxScanCursors = 4096;
// Writes deleted per engine batch by FLUSHDB, to bound batch memory.
inline constexpr size_t kFlushBatchKeys = 1000;
// How long a graceful shutdown waits for clients to read the replies they
// are owed before closing them anyway (a client that stopped reading must
// not hold the exit up; well under systemd's default 90 s stop timeout).
inline constexpr int kShutdownDrainMs = 5000;
// Budget of the Keyspace's cache of decoded values (ValueCache): enough for
// a hot set of ~300k small values; GETs it serves skip the engine's
// memtable and table lookups. Small next to the engine's own buffers.
inline constexpr size_t kValueCacheBytes = 64u << 20;
// Retired staged batches the StagingEngine keeps to reuse (their buffers
// stay allocated): a few cover the batches in flight at once (staging, one
// committing, one being retired), so staging allocates nothing when warm.
inline constexpr size_t kMaxSpareStagedBatches = 4;
// Max DEBUG SLEEP seconds (a test aid; never pause the loop for long).
inline constexpr double kMaxDebugSleepSeconds = 60.0;

}  // namespace dkv::server

// Named limits of the node layer (the multi-Raft core, its raft log engine and
// the shard state machines), each with the reason for its value. Constants
// only; owned by the node engineer; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::node {

// Bytes of recent log entries each group keeps in memory so followers being
// caught up and the apply path rarely read the raft engine back.
inline constexpr uint64_t kMaxCachedLogBytesPerGroup = 4ull << 20;

// A user key travels inside MVCC keys and Raft entries; Redis allows 512 MiB
// but anything beyond 64 KiB is almost surely a mistake and bloats every index.
inline constexpr size_t kMaxKeyBytes = 64 << 10;

// One value must fit in one Raft entry well below the 64 MiB uncommitted cap.
inline constexpr size_t kMaxValueBytes = 16 << 20;

// Operations in one atomic multi-write command: bounds decode work per entry.
inline constexpr size_t kMaxOpsPerCommand = 4096;

// Files in one shard snapshot (a checkpoint holds a manifest, a current file
// and its tables); more means a damaged or hostile snapshot.
inline constexpr size_t kMaxSnapshotFiles = 100000;

// A file name inside a snapshot: the engine's names are short (MANIFEST-...,
// 000042.sst); the bound keeps a hostile header from growing the receiver's
// field buffer.
inline constexpr size_t kMaxSnapshotFileNameBytes = 255;

// Buffer for reading a checkpoint's files once to checksum them before a
// snapshot is sent: memory per snapshot made, whatever the shard's size.
inline constexpr uint64_t kSnapshotIoBytes = 256 << 10;

// Snapshot bytes a node holds in memory per stream: one chunk of this size on
// the leader (read from the files as it is sent) and on the follower (written
// to disk as it arrives). NodeOptions::max_snapshot_chunk_bytes may not exceed
// it: 4 MiB keeps a chunk well under any frame limit while a 1 GiB shard still
// streams in a few hundred messages.
inline constexpr uint64_t kMaxSnapshotChunkBytes = 4 << 20;

// Outstanding proposals and reads per node: the runtime gets ResourceExhausted
// beyond it instead of growing memory without bound behind a slow quorum.
inline constexpr size_t kMaxPendingRequests = 100000;

// Entries read back from the raft engine in one Entries() call, whatever the
// byte budget, so one slow follower cannot make one call scan the whole log.
inline constexpr size_t kMaxEntriesPerRead = 4096;

// MVCC versions one GC step examines (one kGc command's apply): GC runs inside
// the apply of a Raft entry on every replica, so each step must be short (a few
// milliseconds of scanning) and its deletes must fit in one modest write batch.
inline constexpr size_t kMaxGcVersionsPerStep = 4096;

// Versions one ScanKeys call examines at most (SCAN, KEYS, DBSIZE pages): a
// page runs on the node's loop, so it stays short even when most versions
// are old or deleted.
inline constexpr size_t kMaxScanVersions = 16384;

// Default age of the versions GC may collect: reads at a timestamp up to ten
// minutes old still find their history (long scans, lagging followers' reads at
// a timestamp), while a hot key's versions do not pile up for longer than that.
inline constexpr int64_t kDefaultGcTtlUs = 10ll * 60 * 1000 * 1000;

// Default ticks between GC passes a leader starts (one minute at the runtime's
// 25 ms tick): each pass scans the whole shard in steps, so passes much more
// frequent than the TTL would mostly rescan what the last one left.
inline constexpr uint64_t kDefaultGcIntervalTicks = 2400;

}  // namespace dkv::node

// Named maxima of the storage engine, each with the reason for its value.
// Owned by the DB engineer. Constants only; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dkv::storage {

// A key is copied into index blocks, compaction state and memtable lookups;
// 64 KiB keeps an index entry far below a block and matches what the shard
// layer needs (user key + HLC timestamp + prefix).
constexpr size_t kMaxKeySize = 64 << 10;
// A value is held whole in memory several times over (batch, WAL record,
// memtable, compaction); 32 MiB bounds that at a small fraction of RAM.
constexpr size_t kMaxValueSize = 32 << 20;
// The leader of a group commit stops adding followers' batches at this size,
// so one WAL record (and one follower's wait) stays bounded.
constexpr size_t kMaxWriteGroupBytes = 1 << 20;
// A small first batch only gathers this much more, so a lone small write is
// not slowed down by a large group forming behind it.
constexpr size_t kSmallWriteGroupSlackBytes = 128 << 10;
// Each write is delayed this long (per level-0 file over the slowdown
// trigger) before the stop trigger, to hand compaction CPU gradually.
constexpr int64_t kSlowdownDelayMicros = 1000;
// Cap on the slowdown delay of one write group.
constexpr int64_t kMaxSlowdownDelayMicros = 8000;
// The first WAL after open is zero-filled synchronously up to this size (a
// few milliseconds of open time); a full-size one is prepared in the background.
constexpr size_t kInitialWalPrezeroBytes = 1 << 20;
// A MANIFEST larger than this is replaced by a fresh one holding one
// snapshot edit at the next change, so reopening never replays a long history.
constexpr uint64_t kManifestRollBytes = 8 << 20;
// Extra zeros beyond write_buffer_size in a pre-zeroed WAL file: the WAL
// holds batch headers and fragment headers the memtable does not count.
constexpr size_t kWalPrezeroSlackBytes = 256 << 10;

}  // namespace dkv::storage

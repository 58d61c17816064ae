// Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks",
// 2014): timestamps that follow physical time closely yet respect causality,
// so every committed write can carry one and regions can order them.
//
// A Timestamp is (wall_time_us, logical); Timestamps are totally ordered by
// wall time then logical. One Hlc per node, owned by the node's runtime (or the
// simulator) and shared by every shard on the node: Hlc is thread-safe, its
// state guarded by one mutex. It reads time only through the Clock& it is
// given, which must outlive it.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace dkv {

struct Timestamp {
  // Size of the encoded form. Frozen: timestamps are persisted in MVCC keys.
  static constexpr size_t kEncodedSize = 12;
  // The largest logical counter an Hlc produces or accepts. When a counter
  // would pass it, the Hlc carries into wall time instead (see Hlc).
  static constexpr uint32_t kMaxLogical = UINT32_MAX;

  int64_t wall_time_us = 0;  // physical microseconds since the Unix epoch
  uint32_t logical = 0;      // orders events within one wall_time_us

  friend auto operator<=>(const Timestamp&, const Timestamp&) = default;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;

  // Appends the 12-byte sortable form to dst:
  //   bytes [0, 8):  wall_time_us as uint64 with the sign bit flipped, big-endian
  //   bytes [8, 12): logical, big-endian
  // memcmp order of encodings equals operator< order of timestamps, so an
  // encoded timestamp can suffix an MVCC key. Frozen.
  void EncodeTo(std::string* dst) const;
  std::string Encode() const;
  // Decodes exactly kEncodedSize bytes; Corruption if the size differs.
  static Result<Timestamp> Decode(std::string_view input);

  // "<wall_time_us>.<logical>", e.g. "1700000000000123.4", for logs and traces.
  std::string ToString() const;
};

class Hlc {
 public:
  // max_offset_us: the largest clock offset between nodes we tolerate; a remote
  // timestamp further than this ahead of our physical clock is refused.
  // REQUIRES: max_offset_us >= 0; clock outlives the Hlc.
  Hlc(Clock& clock, int64_t max_offset_us);

  Hlc(const Hlc&) = delete;
  Hlc& operator=(const Hlc&) = delete;

  // Send or local event: returns a timestamp greater than every timestamp this
  // Hlc has returned or accepted before, and with wall_time_us >= the physical
  // clock reading. Never fails: if the physical clock goes back, the wall time
  // stays and the logical counter grows.
  Timestamp Now() EXCLUDES(mu_);

  // Receive event for a message stamped `remote`: on success returns a
  // timestamp greater than both `remote` and everything returned before.
  // Fails with InvalidArgument, without changing the clock, if
  // remote.wall_time_us is more than max_offset_us ahead of our physical clock
  // (a peer with a broken clock must not drag ours into the future).
  Result<Timestamp> Update(const Timestamp& remote) EXCLUDES(mu_);

  // The last timestamp returned or accepted (without advancing); the zero
  // Timestamp before the first event.
  Timestamp Last() EXCLUDES(mu_);

  int64_t max_offset_us() const { return max_offset_us_; }

 private:
  // Advances last_ to (wall, logical), carrying a logical counter that would
  // pass kMaxLogical into wall time: (wall + 1, 0). REQUIRES: mu_ held.
  void Set(int64_t wall, uint64_t logical) REQUIRES(mu_);

  Clock& clock_;
  const int64_t max_offset_us_;
  Mutex mu_;
  Timestamp last_ GUARDED_BY(mu_);
};

}  // namespace dkv

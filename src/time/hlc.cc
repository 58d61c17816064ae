#include "time/hlc.h"

#include <algorithm>

#include "common/assert.h"

namespace dkv {

namespace {
constexpr uint64_t kSignBit = uint64_t{1} << 63;
}  // namespace

void Timestamp::EncodeTo(std::string* dst) const {
  char buf[kEncodedSize];
  const uint64_t wall = static_cast<uint64_t>(wall_time_us) ^ kSignBit;
  for (int i = 0; i < 8; i++) buf[i] = static_cast<char>((wall >> (56 - 8 * i)) & 0xff);
  for (int i = 0; i < 4; i++) buf[8 + i] = static_cast<char>((logical >> (24 - 8 * i)) & 0xff);
  dst->append(buf, kEncodedSize);
}

std::string Timestamp::Encode() const {
  std::string s;
  EncodeTo(&s);
  return s;
}

Result<Timestamp> Timestamp::Decode(std::string_view input) {
  if (input.size() != kEncodedSize) {
    return Status::Corruption("hlc timestamp",
                              "expected 12 bytes, got " + std::to_string(input.size()));
  }
  const auto* p = reinterpret_cast<const uint8_t*>(input.data());
  uint64_t wall = 0;
  for (int i = 0; i < 8; i++) wall = (wall << 8) | p[i];
  uint32_t logical = 0;
  for (int i = 8; i < 12; i++) logical = (logical << 8) | p[i];
  Timestamp ts;
  ts.wall_time_us = static_cast<int64_t>(wall ^ kSignBit);
  ts.logical = logical;
  return ts;
}

std::string Timestamp::ToString() const {
  return std::to_string(wall_time_us) + "." + std::to_string(logical);
}

Hlc::Hlc(Clock& clock, int64_t max_offset_us) : clock_(clock), max_offset_us_(max_offset_us) {
  DKV_ASSERT(max_offset_us >= 0);
}

void Hlc::Set(int64_t wall, uint64_t logical) {
  if (logical > Timestamp::kMaxLogical) {
    // Overflow: borrow one microsecond from the future. Only reachable after
    // 2^32 events inside one microsecond (or a remote at kMaxLogical), so the
    // drift this adds is negligible and bounded by one microsecond per 2^32 events.
    DKV_ASSERT(wall < INT64_MAX);
    wall += 1;
    logical = 0;
  }
  const Timestamp next{wall, static_cast<uint32_t>(logical)};
  DKV_ASSERT(next > last_);
  last_ = next;
}

Timestamp Hlc::Now() {
  const int64_t physical_us = clock_.NowMicros();
  MutexLock lock(&mu_);
  if (physical_us > last_.wall_time_us) {
    Set(physical_us, 0);
  } else {
    Set(last_.wall_time_us, uint64_t{last_.logical} + 1);
  }
  DKV_ASSERT(last_.wall_time_us >= physical_us);
  return last_;
}

Result<Timestamp> Hlc::Update(const Timestamp& remote) {
  const int64_t physical_us = clock_.NowMicros();
  // Compare in 128 bits: wall times come off the wire and may be anything.
  const __int128 ahead_us = static_cast<__int128>(remote.wall_time_us) - physical_us;
  if (ahead_us > max_offset_us_) {
    return Status::InvalidArgument(
        "hlc update",
        "remote wall time " + std::to_string(remote.wall_time_us) + " us is " +
            std::to_string(static_cast<int64_t>(std::min<__int128>(ahead_us, INT64_MAX))) +
            " us ahead of local physical time " + std::to_string(physical_us) +
            " us, more than the max offset " + std::to_string(max_offset_us_) + " us");
  }
  if (remote.wall_time_us == INT64_MAX && remote.logical == Timestamp::kMaxLogical) {
    // Nothing is greater; only a broken or hostile peer sends this.
    return Status::InvalidArgument("hlc update", "remote timestamp is the largest possible");
  }
  MutexLock lock(&mu_);
  const int64_t wall = std::max({last_.wall_time_us, remote.wall_time_us, physical_us});
  uint64_t logical = 0;
  if (wall == last_.wall_time_us && wall == remote.wall_time_us) {
    logical = uint64_t{std::max(last_.logical, remote.logical)} + 1;
  } else if (wall == last_.wall_time_us) {
    logical = uint64_t{last_.logical} + 1;
  } else if (wall == remote.wall_time_us) {
    logical = uint64_t{remote.logical} + 1;
  }  // else the physical clock is ahead of both: logical restarts at 0.
  Set(wall, logical);
  DKV_ASSERT(last_ > remote);
  return last_;
}

Timestamp Hlc::Last() {
  MutexLock lock(&mu_);
  return last_;
}

}  // namespace dkv

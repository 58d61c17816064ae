// Framing of the node-to-node byte stream (docs/formats/rpc.md).
//
// A frame is an 8-byte header -- payload length (big-endian u32) and Checksum32
// of the payload (XXH3 low 32 bits, big-endian u32) -- followed by the payload,
// one serialized rpc::Frame. EncodeFrame writes one; FrameDecoder takes the bytes
// of a connection as they arrive, in pieces of any size, and yields whole frames.
// The decoder buffers at most one partial frame (never more than its limit plus
// the header) and turns every malformed input into a Status, never a crash.
// A FrameDecoder belongs to one connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include <google/protobuf/arena.h>

#include "common/status.h"
#include "proto/distkv.pb.h"
#include "transport/limits.h"

namespace dkv::transport {

constexpr size_t kFrameHeaderBytes = 8;

// Writes the header of a frame whose payload is `payload` into header[0..8).
void EncodeFrameHeader(std::string_view payload, char* header);

// Serializes `frame` and prepends its header. Returns ResourceExhausted when the
// payload would exceed `max_frame_bytes` (the peer would refuse it) and
// InvalidArgument when the frame has no kind set.
Result<std::string> EncodeFrame(const rpc::Frame& frame, uint32_t max_frame_bytes = kMaxFrameBytes);

class FrameDecoder {
 public:
  // REQUIRES: max_frame_bytes > 0.
  explicit FrameDecoder(uint32_t max_frame_bytes = kMaxFrameBytes);

  FrameDecoder(const FrameDecoder&) = delete;
  FrameDecoder& operator=(const FrameDecoder&) = delete;

  // Consumes all of `bytes`, calling `on_frame` for each complete frame, in
  // order. Returns OK when every complete frame was good (a partial one is kept
  // for the next call), or Corruption("rpc frame", ...) for the first bad one:
  // a length over the limit, a checksum mismatch, a payload that does not parse,
  // or a frame of unknown kind. After an error the stream cannot be resynchronised:
  // the decoder stays failed and every later call returns the same error.
  // The frame given to `on_frame` lives in the decoder's arena and is valid only
  // during the call; moving from it copies into the destination.
  Status Feed(std::string_view bytes, const std::function<void(rpc::Frame&&)>& on_frame);

  // Changes the limit for frames whose header has not been read yet (the
  // transport raises it once a connection's handshake is done).
  // REQUIRES: max_frame_bytes > 0.
  void set_max_frame_bytes(uint32_t max_frame_bytes);

  // Bytes of an incomplete frame held so far (for tests and stats).
  size_t buffered_bytes() const { return buffer_.size(); }

 private:
  // Checks and parses one whole frame's payload.
  Status DecodePayload(std::string_view payload, uint32_t checksum, rpc::Frame* frame);
  // Checks a complete header; sets payload_bytes_/checksum_.
  Status ReadHeader(const char* header);
  // A fresh frame in the arena (frame_).
  rpc::Frame* NewFrame();
  // Hands frame_ to on_frame, then frees the arena.
  void Emit(const std::function<void(rpc::Frame&&)>& on_frame);

  uint32_t max_frame_bytes_;
  // Holds the header, then the payload, of the frame being assembled.
  std::string buffer_;
  bool have_header_ = false;
  uint32_t payload_bytes_ = 0;
  uint32_t checksum_ = 0;
  Status error_;
  // Parsed frames are built here: one or two block allocations per frame instead
  // of one per sub-message and string, and all freed at once after the callback.
  google::protobuf::Arena arena_;
  rpc::Frame* frame_ = nullptr;  // in arena_, between NewFrame and Emit
};

}  // namespace dkv::transport

#include "transport/frame.h"

#include <algorithm>
#include <utility>

#include "common/assert.h"
#include "common/hash.h"

namespace dkv::transport {
namespace {

constexpr const char* kWhere = "rpc frame";

// Reassembly buffer capacity kept between frames; larger ones are released.
constexpr size_t kKeepBufferBytes = 1u << 20;

void PutBigEndian32(char* dst, uint32_t v) {
  dst[0] = static_cast<char>(v >> 24);
  dst[1] = static_cast<char>(v >> 16);
  dst[2] = static_cast<char>(v >> 8);
  dst[3] = static_cast<char>(v);
}

uint32_t GetBigEndian32(const char* src) {
  const auto* p = reinterpret_cast<const unsigned char*>(src);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

google::protobuf::ArenaOptions ArenaOptionsForFrames() {
  google::protobuf::ArenaOptions options;
  // A batch of a few MsgApps parses into one or two blocks; big ones take a few more.
  options.start_block_size = 4096;
  options.max_block_size = 64u << 10;
  return options;
}

}  // namespace

void EncodeFrameHeader(std::string_view payload, char* header) {
  DKV_ASSERT(payload.size() <= UINT32_MAX);
  PutBigEndian32(header, static_cast<uint32_t>(payload.size()));
  PutBigEndian32(header + 4, Checksum32(payload));
}

Result<std::string> EncodeFrame(const rpc::Frame& frame, uint32_t max_frame_bytes) {
  if (frame.kind_case() == rpc::Frame::KIND_NOT_SET) {
    return Status::InvalidArgument(kWhere, "frame has no kind");
  }
  const size_t payload_bytes = frame.ByteSizeLong();
  if (payload_bytes > max_frame_bytes) {
    return Status::ResourceExhausted(kWhere, "payload of " + std::to_string(payload_bytes) +
                                                 " bytes over the limit " +
                                                 std::to_string(max_frame_bytes));
  }
  std::string out(kFrameHeaderBytes + payload_bytes, '\0');
  char* payload = out.data() + kFrameHeaderBytes;
  DKV_ASSERT(frame.SerializeToArray(payload, static_cast<int>(payload_bytes)));
  EncodeFrameHeader(std::string_view(payload, payload_bytes), out.data());
  return out;
}

FrameDecoder::FrameDecoder(uint32_t max_frame_bytes)
    : max_frame_bytes_(max_frame_bytes), arena_(ArenaOptionsForFrames()) {
  DKV_ASSERT(max_frame_bytes > 0);
}

void FrameDecoder::set_max_frame_bytes(uint32_t max_frame_bytes) {
  DKV_ASSERT(max_frame_bytes > 0);
  max_frame_bytes_ = max_frame_bytes;
}

Status FrameDecoder::ReadHeader(const char* header) {
  const uint32_t length = GetBigEndian32(header);
  if (length > max_frame_bytes_) {
    return Status::Corruption(kWhere, "length " + std::to_string(length) + " over the limit " +
                                          std::to_string(max_frame_bytes_));
  }
  payload_bytes_ = length;
  checksum_ = GetBigEndian32(header + 4);
  have_header_ = true;
  return Status::OK();
}

Status FrameDecoder::DecodePayload(std::string_view payload, uint32_t checksum, rpc::Frame* frame) {
  DKV_ASSERT(payload.size() == payload_bytes_);
  if (Checksum32(payload) != checksum) return Status::Corruption(kWhere, "checksum mismatch");
  if (!frame->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return Status::Corruption(kWhere, "unparsable protobuf");
  }
  if (frame->kind_case() == rpc::Frame::KIND_NOT_SET) {
    return Status::Corruption(kWhere, "unknown frame kind");
  }
  return Status::OK();
}

Status FrameDecoder::Feed(std::string_view bytes,
                          const std::function<void(rpc::Frame&&)>& on_frame) {
  if (!error_.ok()) return error_;
  // Each pass either completes a frame or consumes all of `bytes`, so the loop
  // ends after at most bytes.size() / kFrameHeaderBytes + 1 passes.
  while (!bytes.empty()) {
    if (!have_header_) {
      // Fast path: a whole header (and maybe the whole frame) in the input.
      if (buffer_.empty() && bytes.size() >= kFrameHeaderBytes) {
        error_ = ReadHeader(bytes.data());
        if (!error_.ok()) return error_;
        bytes.remove_prefix(kFrameHeaderBytes);
      } else {
        const size_t take = std::min(kFrameHeaderBytes - buffer_.size(), bytes.size());
        buffer_.append(bytes.data(), take);
        bytes.remove_prefix(take);
        if (buffer_.size() < kFrameHeaderBytes) break;
        error_ = ReadHeader(buffer_.data());
        if (!error_.ok()) return error_;
        buffer_.clear();
      }
    }
    DKV_ASSERT(have_header_);
    DKV_ASSERT(buffer_.size() <= payload_bytes_);
    if (buffer_.empty() && bytes.size() >= payload_bytes_) {
      // The whole payload is in the input: parse it in place, no copy.
      error_ = DecodePayload(bytes.substr(0, payload_bytes_), checksum_, NewFrame());
      bytes.remove_prefix(payload_bytes_);
    } else {
      // Grows with the bytes that actually arrived (never reserved from the
      // header's claim), so a lying length costs nothing until bytes come.
      const size_t take = std::min<size_t>(payload_bytes_ - buffer_.size(), bytes.size());
      buffer_.append(bytes.data(), take);
      bytes.remove_prefix(take);
      if (buffer_.size() < payload_bytes_) break;
      error_ = DecodePayload(buffer_, checksum_, NewFrame());
      buffer_.clear();
      // A big frame's buffer is not kept for the life of an idle connection.
      if (buffer_.capacity() > kKeepBufferBytes) buffer_.shrink_to_fit();
    }
    if (!error_.ok()) return error_;
    have_header_ = false;
    Emit(on_frame);
  }
  // A zero-length payload right after its header completes without input left.
  if (have_header_ && payload_bytes_ == 0) {
    error_ = DecodePayload({}, checksum_, NewFrame());
    if (!error_.ok()) return error_;
    have_header_ = false;
    Emit(on_frame);
  }
  return Status::OK();
}

rpc::Frame* FrameDecoder::NewFrame() {
  arena_.Reset();  // whatever a failed parse left behind
  frame_ = google::protobuf::Arena::CreateMessage<rpc::Frame>(&arena_);
  return frame_;
}

void FrameDecoder::Emit(const std::function<void(rpc::Frame&&)>& on_frame) {
  DKV_ASSERT(frame_ != nullptr);
  rpc::Frame* frame = std::exchange(frame_, nullptr);
  on_frame(std::move(*frame));
  arena_.Reset();
}

}  // namespace dkv::transport

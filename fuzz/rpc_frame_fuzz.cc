// libFuzzer target for the node-to-node frame decoder and codec
// (docs/formats/rpc.md): arbitrary bytes, cut into pieces at fuzzer-chosen
// points, are fed to a FrameDecoder. It must never crash, never buffer more than
// one frame's limit, and every frame it yields must either convert to a
// node::MessageBatch or be refused with Corruption -- and a converted batch must
// encode and decode back to itself. Owned by the transport engineer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "transport/codec.h"
#include "transport/frame.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Small limit so the fuzzer reaches "over the limit" and large frames cheaply.
constexpr uint32_t kFuzzMaxFrameBytes = 1u << 16;

void CheckFrame(const dkv::rpc::Frame& frame) {
  using dkv::transport::FromProto;
  using dkv::transport::ToProto;
  Check(frame.kind_case() != dkv::rpc::Frame::KIND_NOT_SET);
  if (!frame.has_raft_batch()) return;
  dkv::Result<dkv::node::MessageBatch> batch = FromProto(frame.raft_batch());
  if (!batch.ok()) {
    Check(batch.status().IsCorruption());
    return;
  }
  // Whatever decoded re-encodes into something that decodes to the same batch.
  dkv::rpc::Frame again;
  ToProto(*batch, again.mutable_raft_batch());
  dkv::Result<std::string> bytes = dkv::transport::EncodeFrame(again, UINT32_MAX);
  Check(bytes.ok());
  dkv::transport::FrameDecoder decoder(UINT32_MAX);
  int frames = 0;
  dkv::Status s = decoder.Feed(*bytes, [&](dkv::rpc::Frame&& f) {
    frames++;
    dkv::Result<dkv::node::MessageBatch> back = FromProto(f.raft_batch());
    Check(back.ok());
    Check(back->messages.size() == batch->messages.size());
  });
  Check(s.ok());
  Check(frames == 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first byte picks the piece size (bits 1..7), so splits across reads are
  // explored, and the mode (bit 0): raw stream bytes, or the rest taken as one
  // payload behind a correct header -- random bytes almost never pass the
  // checksum, and this mode lets the fuzzer reach protobuf parsing and the codec.
  size_t piece = 1;
  std::string framed;
  if (!input.empty()) {
    const auto first = static_cast<unsigned char>(input[0]);
    piece = 1 + (first >> 1);
    input.remove_prefix(1);
    if ((first & 1) != 0) {
      framed.resize(dkv::transport::kFrameHeaderBytes);
      dkv::transport::EncodeFrameHeader(input, framed.data());
      framed.append(input);
      input = framed;
    }
  }
  dkv::transport::FrameDecoder decoder(kFuzzMaxFrameBytes);
  dkv::Status status;
  while (!input.empty() && status.ok()) {
    const std::string_view chunk = input.substr(0, piece);
    input.remove_prefix(chunk.size());
    status = decoder.Feed(chunk, [](dkv::rpc::Frame&& f) { CheckFrame(f); });
    Check(decoder.buffered_bytes() <= kFuzzMaxFrameBytes + dkv::transport::kFrameHeaderBytes);
  }
  if (!status.ok()) Check(status.IsCorruption());
  return 0;
}

#include "transport/frame.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <string>
#include <vector>

#include "common/hash.h"
#include "common/random.h"

namespace dkv::transport {
namespace {

rpc::Frame HelloFrame(uint64_t node_id) {
  rpc::Frame f;
  f.mutable_hello()->set_node_id(node_id);
  f.mutable_hello()->set_cluster_id("test-cluster");
  f.mutable_hello()->set_protocol_version(kProtocolVersion);
  return f;
}

std::string Encoded(const rpc::Frame& f) {
  Result<std::string> bytes = EncodeFrame(f);
  DKV_ASSERT(bytes.ok());
  return *bytes;
}

// A header with the given length and checksum, then `payload`.
std::string RawFrame(uint32_t length, uint32_t checksum, std::string_view payload) {
  std::string s;
  for (uint32_t v : {length, checksum}) {
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>(v >> shift));
  }
  s.append(payload);
  return s;
}

struct Collected {
  std::vector<rpc::Frame> frames;
  Status status;
};

Collected FeedAll(FrameDecoder* d, const std::vector<std::string>& pieces) {
  Collected c;
  for (const std::string& piece : pieces) {
    c.status = d->Feed(piece, [&](rpc::Frame&& f) { c.frames.push_back(std::move(f)); });
    if (!c.status.ok()) break;
  }
  return c;
}

TEST(FrameTest, HeaderIsBigEndianLengthThenChecksum) {
  const std::string bytes = Encoded(HelloFrame(1));
  const std::string payload = bytes.substr(kFrameHeaderBytes);
  EXPECT_EQ(bytes.substr(0, kFrameHeaderBytes),
            RawFrame(static_cast<uint32_t>(payload.size()), Checksum32(payload), ""));
}

TEST(FrameTest, HelloBytesMatchTheFormatDoc) {
  // The worked example of docs/formats/rpc.md.
  rpc::Frame f;
  f.mutable_hello()->set_node_id(1);
  f.mutable_hello()->set_cluster_id("c1");
  f.mutable_hello()->set_protocol_version(1);
  const std::string want(
      "\x00\x00\x00\x0a\x0e\x2f\x06\x6e"
      "\x0a\x08\x08\x01\x12\x02\x63\x31\x18\x01",
      18);
  EXPECT_EQ(Encoded(f), want);
}

TEST(FrameTest, FramesSplitAtEveryByteBoundaryDecode) {
  const std::string stream =
      Encoded(HelloFrame(1)) + Encoded(HelloFrame(2)) + Encoded(HelloFrame(3));
  for (size_t cut = 0; cut <= stream.size(); cut++) {
    FrameDecoder d;
    Collected c = FeedAll(&d, {stream.substr(0, cut), stream.substr(cut)});
    ASSERT_TRUE(c.status.ok()) << cut << ": " << c.status.ToString();
    ASSERT_EQ(c.frames.size(), 3u) << cut;
    for (uint64_t i = 0; i < 3; i++) EXPECT_EQ(c.frames[i].hello().node_id(), i + 1);
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
}

TEST(FrameTest, AnyChunkingOfAnyFramesDecodesTheSameFrames) {
  EXPECT_TRUE(rc::check("chunked stream decodes to the frames encoded", [] {
    const auto ids = *rc::gen::nonEmpty<std::vector<uint64_t>>();
    std::string stream;
    for (uint64_t id : ids) stream += Encoded(HelloFrame(id));
    const auto cuts = *rc::gen::container<std::vector<size_t>>(rc::gen::inRange<size_t>(1, 40));
    std::vector<std::string> pieces;
    size_t pos = 0;
    for (size_t n : cuts) {
      if (pos >= stream.size()) break;
      pieces.push_back(stream.substr(pos, n));
      pos += n;
    }
    if (pos < stream.size()) pieces.push_back(stream.substr(pos));
    FrameDecoder d;
    Collected c = FeedAll(&d, pieces);
    RC_ASSERT(c.status.ok());
    RC_ASSERT(c.frames.size() == ids.size());
    for (size_t i = 0; i < ids.size(); i++) RC_ASSERT(c.frames[i].hello().node_id() == ids[i]);
  }));
}

TEST(FrameTest, ChecksumMismatchIsCorruption) {
  std::string bytes = Encoded(HelloFrame(1));
  bytes.back() ^= 0x01;
  FrameDecoder d;
  Collected c = FeedAll(&d, {bytes});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: checksum mismatch");
  EXPECT_TRUE(c.frames.empty());
}

TEST(FrameTest, LengthOverTheLimitIsRejectedBeforeAnyPayloadArrives) {
  FrameDecoder d(1024);
  Collected c = FeedAll(&d, {RawFrame(0xffffffff, 0, "")});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: length 4294967295 over the limit 1024");
  EXPECT_EQ(d.buffered_bytes(), 0u);
}

TEST(FrameTest, UnparsableProtobufIsCorruption) {
  const std::string junk = "\xff\xff\xff\xff";  // field 0x1fffffff..., truncated varint
  FrameDecoder d;
  Collected c = FeedAll(&d, {RawFrame(4, Checksum32(junk), junk)});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: unparsable protobuf");
}

TEST(FrameTest, FrameOfUnknownKindIsCorruption) {
  // Field 9 (not a Frame kind), varint 1: parses, but sets no kind.
  const std::string payload = "\x48\x01";
  FrameDecoder d;
  Collected c = FeedAll(&d, {RawFrame(2, Checksum32(payload), payload)});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: unknown frame kind");
}

TEST(FrameTest, EmptyPayloadIsUnknownKind) {
  FrameDecoder d;
  Collected c = FeedAll(&d, {RawFrame(0, Checksum32(""), "")});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: unknown frame kind");
}

TEST(FrameTest, DecoderStaysFailedAfterAnError) {
  FrameDecoder d;
  std::string bad = Encoded(HelloFrame(1));
  bad[5] ^= 0x10;  // checksum byte
  ASSERT_FALSE(FeedAll(&d, {bad}).status.ok());
  Collected c = FeedAll(&d, {Encoded(HelloFrame(2))});
  EXPECT_EQ(c.status.ToString(), "Corruption: rpc frame: checksum mismatch");
  EXPECT_TRUE(c.frames.empty());
}

TEST(FrameTest, GoodFramesBeforeABadOneAreDelivered) {
  std::string bad = Encoded(HelloFrame(2));
  bad.back() ^= 0x01;
  FrameDecoder d;
  Collected c = FeedAll(&d, {Encoded(HelloFrame(1)) + bad + Encoded(HelloFrame(3))});
  EXPECT_TRUE(c.status.IsCorruption());
  ASSERT_EQ(c.frames.size(), 1u);
  EXPECT_EQ(c.frames[0].hello().node_id(), 1u);
}

TEST(FrameTest, RaisedLimitAppliesToTheNextHeader) {
  rpc::Frame big;
  big.mutable_forward_response()->set_reply(std::string(5000, 'x'));
  FrameDecoder d(kMaxHelloFrameBytes);
  EXPECT_TRUE(FeedAll(&d, {Encoded(big)}).status.IsCorruption());

  FrameDecoder d2(kMaxHelloFrameBytes);
  ASSERT_TRUE(FeedAll(&d2, {Encoded(HelloFrame(1))}).status.ok());
  d2.set_max_frame_bytes(kMaxFrameBytes);
  Collected c = FeedAll(&d2, {Encoded(big)});
  ASSERT_TRUE(c.status.ok()) << c.status.ToString();
  EXPECT_EQ(c.frames.at(0).forward_response().reply().size(), 5000u);
}

TEST(FrameTest, BufferHoldsOnlyBytesThatArrived) {
  // A header claiming 60 MiB followed by 10 bytes buffers 10 bytes, not 60 MiB.
  FrameDecoder d;
  Collected c = FeedAll(&d, {RawFrame(60u << 20, 0, "0123456789")});
  EXPECT_TRUE(c.status.ok());
  EXPECT_EQ(d.buffered_bytes(), 10u);
}

TEST(FrameTest, EncodeRefusesFramesOverTheLimitOrWithoutKind) {
  rpc::Frame big;
  big.mutable_forward_response()->set_reply(std::string(2000, 'x'));
  EXPECT_TRUE(EncodeFrame(big, 1000).status().IsResourceExhausted());
  EXPECT_TRUE(EncodeFrame(rpc::Frame()).status().IsInvalidArgument());
}

TEST(FrameTest, RandomBytesNeverCrashTheDecoder) {
  const uint64_t seed = 20261124;
  Rng rng(seed);
  for (int round = 0; round < 2000; round++) {
    std::string bytes(rng.Uniform(64), '\0');
    for (char& ch : bytes) ch = static_cast<char>(rng.Uniform(256));
    FrameDecoder d(1u << 16);
    Status s = d.Feed(bytes, [](rpc::Frame&&) {});
    EXPECT_LE(d.buffered_bytes(), bytes.size()) << "seed " << seed << " round " << round;
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << "seed " << seed;
    }
  }
}

}  // namespace
}  // namespace dkv::transport

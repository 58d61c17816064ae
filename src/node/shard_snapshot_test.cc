// Tests of streamed shard snapshots: the source's bytes are exactly the frozen
// format, the receiver accepts them cut into any chunks and writes the files,
// and refuses (before anything is used) a truncated stream, any flipped byte,
// and the malformed headers the in-memory decoder refuses.
#include "node/shard_snapshot.h"

#include <gtest/gtest.h>

#include <random>

#include "node/limits.h"
#include "storage/fault_env.h"

namespace dkv::node {
namespace {

class ShardSnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(env_.CreateDir("/d").ok());
    ASSERT_TRUE(env_.CreateDir("/d/ckpt").ok());
    files_ = {{"000005.sst", std::string(10000, 'x') + "tail"},
              {"CURRENT", "MANIFEST-000001\n"},
              {"MANIFEST-000001", "manifest bytes"},
              {"empty", ""}};
    for (const SnapshotFile& f : files_) {
      ASSERT_TRUE(storage::WriteStringToFile(&env_, f.contents, "/d/ckpt/" + f.name, true).ok());
    }
  }

  std::shared_ptr<SnapshotFileSource> Source() {
    auto src = SnapshotFileSource::Create(&env_, "/d/ckpt");
    EXPECT_TRUE(src.ok()) << src.status().ToString();
    return src.ok() ? *src : nullptr;
  }

  // Feeds `data` to a receiver in chunks of random sizes (1..max_chunk).
  Status Receive(SnapshotReceiver& rx, std::string_view data, uint32_t seed, size_t max_chunk) {
    std::mt19937 rng(seed);
    DKV_RETURN_IF_ERROR(rx.Begin("/d/in"));
    while (!data.empty()) {
      const size_t n = std::min<size_t>(data.size(), 1 + rng() % max_chunk);
      DKV_RETURN_IF_ERROR(rx.Append(data.substr(0, n)));
      data.remove_prefix(n);
    }
    return rx.Finish();
  }

  storage::FaultInjectionEnv env_;
  std::vector<SnapshotFile> files_;
};

TEST_F(ShardSnapshotTest, SourceServesTheFrozenFormatInAnyPieces) {
  auto src = Source();
  ASSERT_NE(src, nullptr);
  const std::string want = EncodeSnapshotFiles(files_);
  ASSERT_EQ(src->Size(), want.size());
  std::string all;
  ASSERT_TRUE(src->Read(0, src->Size(), &all).ok());
  EXPECT_EQ(all, want);
  const uint32_t seed = 5150;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 200; i++) {
    const uint64_t offset = rng() % (want.size() + 1);
    const uint64_t len = rng() % 3000;
    std::string piece;
    ASSERT_TRUE(src->Read(offset, len, &piece).ok());
    EXPECT_EQ(piece, want.substr(offset, len)) << offset << "+" << len;
  }
}

TEST_F(ShardSnapshotTest, SourceDeletesItsDirectoryWhenDropped) {
  auto src = Source();
  ASSERT_NE(src, nullptr);
  src.reset();
  EXPECT_FALSE(env_.FileExists("/d/ckpt/CURRENT"));
}

TEST_F(ShardSnapshotTest, ReceiverTakesAnyChunkingAndWritesEveryFile) {
  const std::string data = EncodeSnapshotFiles(files_);
  for (size_t max_chunk : {1, 7, 64, 5000, 1 << 20}) {
    SnapshotReceiver rx(&env_);
    ASSERT_TRUE(Receive(rx, data, static_cast<uint32_t>(max_chunk), max_chunk).ok()) << max_chunk;
    EXPECT_TRUE(rx.finished());
    for (const SnapshotFile& f : files_) {
      auto got = storage::ReadFileToString(&env_, "/d/in/" + f.name);
      ASSERT_TRUE(got.ok()) << f.name;
      EXPECT_EQ(*got, f.contents) << f.name;
    }
    EXPECT_EQ(rx.names().size(), files_.size());
    // Durable: the files and the directory survive a crash.
    env_.Crash();
    EXPECT_TRUE(env_.FileExists("/d/in/000005.sst"));
  }
}

TEST_F(ShardSnapshotTest, TruncatedStreamIsRefusedAtFinishAndLeavesNothing) {
  const std::string data = EncodeSnapshotFiles(files_);
  for (size_t n = 0; n < data.size(); n += (n < 100 ? 1 : 97)) {
    SnapshotReceiver rx(&env_);
    Status st = Receive(rx, data.substr(0, n), 1, 512);
    EXPECT_TRUE(st.IsCorruption()) << n << " " << st.ToString();
    EXPECT_FALSE(rx.finished());
    rx.Abort();
    EXPECT_FALSE(env_.FileExists("/d/in")) << n;
  }
}

TEST_F(ShardSnapshotTest, AnyFlippedByteIsRefused) {
  const std::string data = EncodeSnapshotFiles(files_);
  for (size_t i = 0; i < data.size(); i += (i < 200 ? 1 : 131)) {
    std::string bad = data;
    bad[i] ^= 0x01;
    SnapshotReceiver rx(&env_);
    Status st = Receive(rx, bad, static_cast<uint32_t>(i), 300);
    // A flipped size byte may make the stream look truncated or overlong:
    // refused either way, never finished.
    EXPECT_FALSE(st.ok()) << "byte " << i;
    EXPECT_FALSE(rx.finished()) << "byte " << i;
    EXPECT_FALSE(DecodeSnapshotFiles(bad).ok()) << "byte " << i;
  }
}

TEST_F(ShardSnapshotTest, ReceiverAndDecoderRefuseTheSameBadHeaders) {
  const std::vector<std::vector<SnapshotFile>> bad = {
      {{"a", "1"}, {"a", "2"}},                                  // duplicate name
      {{std::string(kMaxSnapshotFileNameBytes + 1, 'n'), "x"}},  // name too long
      {{"../up", "x"}},                                          // not a plain name
      {{"", "x"}},                                               // empty name
  };
  for (const auto& files : bad) {
    const std::string data = EncodeSnapshotFiles(files);
    EXPECT_TRUE(DecodeSnapshotFiles(data).status().IsCorruption()) << files[0].name;
    SnapshotReceiver rx(&env_);
    EXPECT_TRUE(Receive(rx, data, 3, 16).IsCorruption()) << files[0].name;
    rx.Abort();
  }
  // Bytes after the trailer.
  SnapshotReceiver rx(&env_);
  EXPECT_TRUE(Receive(rx, EncodeSnapshotFiles(files_) + "x", 4, 64).IsCorruption());
}

TEST_F(ShardSnapshotTest, SourceReportsAFileThatVanished) {
  auto src = Source();
  ASSERT_NE(src, nullptr);
  ASSERT_TRUE(env_.RemoveFile("/d/ckpt/000005.sst").ok());
  std::string out;
  EXPECT_FALSE(src->Read(0, src->Size(), &out).ok());
}

}  // namespace
}  // namespace dkv::node

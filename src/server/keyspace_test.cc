#include "server/keyspace.h"

#include <gtest/gtest.h>

#include "server/test_harness.h"

namespace dkv::server {
namespace {

TEST(KeyspaceTest, ValueEncodingRoundTrips) {
  StoredValue v;
  v.expire_at_ms = 1234567890123;
  v.payload = std::string("a\0b", 3);
  std::string enc = EncodeStoredValue(v);
  ASSERT_EQ(enc.size(), kValueHeaderSize + 3);
  EXPECT_EQ(enc[0], 0);
  StoredValue back;
  ASSERT_TRUE(DecodeStoredValue(enc, &back).ok());
  EXPECT_EQ(back.expire_at_ms, v.expire_at_ms);
  EXPECT_EQ(back.payload, v.payload);
  EXPECT_TRUE(DecodeStoredValue("short", &back).IsCorruption());
  EXPECT_TRUE(DecodeStoredValue(std::string(9, '\x07'), &back).IsCorruption());
}

TEST(KeyspaceTest, EncodingIsLittleEndianExpiryAfterTypeByte) {
  StoredValue v;
  v.expire_at_ms = 0x0102;
  v.payload = "x";
  EXPECT_EQ(EncodeStoredValue(v), std::string("\x00\x02\x01\x00\x00\x00\x00\x00\x00x", 10));
}

// The worked example of docs/formats/keyspace.md.
TEST(KeyspaceTest, DocumentedExampleEncodesAsShown) {
  StoredValue v;
  v.expire_at_ms = 1700000005000;
  v.payload = "hi";
  EXPECT_EQ(EncodeStoredValue(v), std::string("\x00\x88\x7B\xE5\xCF\x8B\x01\x00\x00hi", 11));
}

TEST(KeyspaceTest, ExpiredKeyIsGoneOnAccess) {
  MemEngine engine;
  FakeClock clock;
  Keyspace ks(&engine, &clock);
  StoredValue v;
  v.payload = "x";
  v.expire_at_ms = clock.now_us / 1000 + 100;
  ASSERT_TRUE(ks.Set("k", v).ok());
  EXPECT_TRUE(ks.Lookup("k").value().has_value());
  clock.now_us += 100 * 1000;
  EXPECT_FALSE(ks.Lookup("k").value().has_value());
  EXPECT_EQ(ks.Size(), 0);
  EXPECT_EQ(ks.expired_keys(), 1);
}

TEST(KeyspaceTest, ActiveExpiryIsBoundedPerCycle) {
  MemEngine engine;
  FakeClock clock;
  Keyspace ks(&engine, &clock);
  for (int i = 0; i < 10; i++) {
    StoredValue v;
    v.payload = "x";
    v.expire_at_ms = clock.now_us / 1000 + 1 + i;
    ASSERT_TRUE(ks.Set("k" + std::to_string(i), v).ok());
  }
  StoredValue forever;
  ASSERT_TRUE(ks.Set("keep", forever).ok());
  clock.now_us += 1000 * 1000;
  EXPECT_EQ(ks.ActiveExpireCycle(4).value(), 4);
  EXPECT_EQ(ks.ActiveExpireCycle(100).value(), 6);
  EXPECT_EQ(ks.ActiveExpireCycle(100).value(), 0);
  EXPECT_EQ(ks.Size(), 1);
  std::vector<std::pair<std::string, std::string>> all;
  ASSERT_TRUE(engine.Scan("", "", 100, &all).ok());
  EXPECT_EQ(all.size(), 1u);
}

TEST(KeyspaceTest, LoadRebuildsExpiryIndexAndCount) {
  MemEngine engine;
  FakeClock clock;
  {
    Keyspace ks(&engine, &clock);
    StoredValue v;
    v.payload = "x";
    v.expire_at_ms = clock.now_us / 1000 + 50;
    ASSERT_TRUE(ks.Set("a", v).ok());
    v.expire_at_ms = 0;
    ASSERT_TRUE(ks.Set("b", v).ok());
  }
  Keyspace ks(&engine, &clock);
  ASSERT_TRUE(ks.Load().ok());
  EXPECT_EQ(ks.Size(), 2);
  EXPECT_EQ(ks.ExpiresCount(), 1);
  clock.now_us += 60 * 1000;
  EXPECT_EQ(ks.ActiveExpireCycle(10).value(), 1);
  EXPECT_EQ(ks.Size(), 1);
}

TEST(KeyspaceTest, ScanKeysPagesThroughEverything) {
  MemEngine engine;
  FakeClock clock;
  Keyspace ks(&engine, &clock);
  for (int i = 0; i < 25; i++) ASSERT_TRUE(ks.Set("key" + std::to_string(i), StoredValue{}).ok());
  std::string start;
  int seen = 0;
  for (int pages = 0; pages < 100; pages++) {
    std::vector<std::string> keys;
    std::string next;
    ASSERT_TRUE(ks.ScanKeys(start, 7, &keys, &next).ok());
    seen += static_cast<int>(keys.size());
    if (next.empty()) break;
    start = next;
  }
  EXPECT_EQ(seen, 25);
}

}  // namespace
}  // namespace dkv::server

namespace dkv::server {
namespace {

// An engine that counts Apply calls, to see batches reach it as one write.
class CountingEngine final : public KvEngine {
 public:
  Status Get(std::string_view key, std::string* value) override { return mem.Get(key, value); }
  Status Apply(const std::vector<KvWrite>& writes) override {
    applies++;
    return mem.Apply(writes);
  }
  Status Sync() override { return Status::OK(); }
  Status Scan(std::string_view start, std::string_view limit, size_t max,
              std::vector<std::pair<std::string, std::string>>* out) override {
    return mem.Scan(start, limit, max, out);
  }
  MemEngine mem;
  int applies = 0;
};

TEST(KeyspaceTest, BatchIsOneEngineWriteAndReadsSeeItsWrites) {
  CountingEngine engine;
  FakeClock clock;
  Keyspace ks(&engine, &clock);
  ks.BeginBatch();
  StoredValue v;
  v.payload = "1";
  ASSERT_TRUE(ks.Set("a", v).ok());
  ASSERT_TRUE(ks.Set("b", v).ok());
  bool existed = false;
  ASSERT_TRUE(ks.Delete("a", &existed).ok());
  EXPECT_TRUE(existed);
  EXPECT_FALSE(ks.Lookup("a").value().has_value());
  EXPECT_TRUE(ks.Lookup("b").value().has_value());
  EXPECT_EQ(engine.applies, 0);
  std::string raw;
  EXPECT_TRUE(engine.mem.Get("kb", &raw).IsNotFound());
  ASSERT_TRUE(ks.CommitBatch().ok());
  EXPECT_EQ(engine.applies, 1);
  EXPECT_TRUE(engine.mem.Get("kb", &raw).ok());
  EXPECT_TRUE(engine.mem.Get("ka", &raw).IsNotFound());
  EXPECT_EQ(ks.Size(), 1);
}

TEST(KeyspaceTest, ExecAndRenameWriteOneBatch) {
  Harness h;  // MemEngine: count through the harness's engine contents instead
  h.Run({"set", "x", "1"});
  h.Run({"multi"});
  h.Run({"incr", "x"});
  h.Run({"incr", "x"});
  h.Run({"rename", "x", "y"});
  h.Run({"get", "y"});
  EXPECT_EQ(h.Run({"exec"}), "*4\r\n:2\r\n:3\r\n+OK\r\n$1\r\n3\r\n");
  EXPECT_EQ(h.Run({"get", "x"}), "$-1\r\n");
}

}  // namespace
}  // namespace dkv::server

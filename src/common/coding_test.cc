#include "common/coding.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

namespace dkv {
namespace {

TEST(CodingTest, Fixed32RoundTripsAndIsLittleEndian) {
  std::string s;
  PutFixed32(&s, 0x04030201);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0], 1);
  EXPECT_EQ(s[3], 4);
  EXPECT_EQ(DecodeFixed32(s.data()), 0x04030201u);
}

TEST(CodingTest, VarintRoundTripsAnyValue) {
  rc::check("varint64 round trip", [](uint64_t v) {
    std::string s;
    PutVarint64(&s, v);
    RC_ASSERT(static_cast<int>(s.size()) == VarintLength(v));
    std::string_view in(s);
    uint64_t out = 0;
    RC_ASSERT(GetVarint64(&in, &out));
    RC_ASSERT(out == v);
    RC_ASSERT(in.empty());
  });
  rc::check("varint32 round trip", [](uint32_t v) {
    std::string s;
    PutVarint32(&s, v);
    std::string_view in(s);
    uint32_t out = 0;
    RC_ASSERT(GetVarint32(&in, &out));
    RC_ASSERT(out == v);
  });
}

TEST(CodingTest, TruncatedVarintIsRejected) {
  std::string s;
  PutVarint64(&s, 1ull << 40);
  for (size_t len = 0; len < s.size(); len++) {
    std::string_view in(s.data(), len);
    uint64_t out;
    EXPECT_FALSE(GetVarint64(&in, &out)) << len;
  }
}

TEST(CodingTest, OverlongVarint32IsRejected) {
  std::string s = "\xff\xff\xff\xff\x7f";  // 35 bits
  std::string_view in(s);
  uint32_t out;
  EXPECT_FALSE(GetVarint32(&in, &out));
}

TEST(CodingTest, LengthPrefixedRejectsLengthPastEnd) {
  std::string s;
  PutVarint32(&s, 10);
  s += "abc";
  std::string_view in(s), out;
  EXPECT_FALSE(GetLengthPrefixed(&in, &out));
}

}  // namespace
}  // namespace dkv

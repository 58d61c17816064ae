#include "server/resp_parser.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <string>
#include <vector>

namespace dkv::server {
namespace {

using Args = std::vector<std::string>;

// Feeds `input` and collects commands until the parser needs more or fails.
struct Outcome {
  std::vector<Args> commands;
  bool error = false;
  std::string error_text;
};

Outcome ParseAll(RespParser& p, const std::string& input) {
  p.Append(input);
  Outcome o;
  while (true) {
    Args argv;
    std::string err;
    RespParser::Result r = p.Next(&argv, &err);
    if (r == RespParser::Result::kNeedMore) break;
    if (r == RespParser::Result::kError) {
      o.error = true;
      o.error_text = err;
      break;
    }
    o.commands.push_back(argv);
  }
  return o;
}

Outcome ParseAll(const std::string& input, RespParserLimits limits = {}) {
  RespParser p(limits);
  return ParseAll(p, input);
}

TEST(RespParserTest, MultibulkCommand) {
  Outcome o = ParseAll("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  ASSERT_FALSE(o.error);
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0], (Args{"GET", "k"}));
}

// The parser reuses the caller's previous argument strings: commands of
// different lengths through one argv vector must still come out exact.
TEST(RespParserTest, ReusedArgvHoldsExactlyEachCommand) {
  RespParser p;
  p.Append(std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n") +
           "*2\r\n$3\r\nGET\r\n$10\r\nlongerkey!\r\n" + "*1\r\n$4\r\nPING\r\n" +
           "*4\r\n$4\r\nMSET\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nb\r\n");
  Args argv;
  std::string err;
  ASSERT_EQ(p.Next(&argv, &err), RespParser::Result::kCommand);
  EXPECT_EQ(argv, (Args{"SET", "k", "value"}));
  ASSERT_EQ(p.Next(&argv, &err), RespParser::Result::kCommand);
  EXPECT_EQ(argv, (Args{"GET", "longerkey!"}));
  ASSERT_EQ(p.Next(&argv, &err), RespParser::Result::kCommand);
  EXPECT_EQ(argv, (Args{"PING"}));
  ASSERT_EQ(p.Next(&argv, &err), RespParser::Result::kCommand);
  EXPECT_EQ(argv, (Args{"MSET", "a", "", "b"}));
  EXPECT_EQ(p.Next(&argv, &err), RespParser::Result::kNeedMore);
}

TEST(RespParserTest, PipelinedCommandsComeOutInOrder) {
  Outcome o = ParseAll("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n");
  ASSERT_EQ(o.commands.size(), 3u);
  EXPECT_EQ(o.commands[1], (Args{"ECHO", "hi"}));
  EXPECT_EQ(o.commands[2], (Args{"PING"}));
}

TEST(RespParserTest, BinarySafeBulkWithCrLfInside) {
  std::string v("a\r\nb\0c", 6);
  Outcome o = ParseAll("*2\r\n$3\r\nSET\r\n$6\r\n" + v + "\r\n");
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0][1], v);
}

TEST(RespParserTest, CommandSplitAtEveryByteParsesTheSame) {
  std::string input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET key\r\n";
  RespParser p;
  std::vector<Args> got;
  for (char c : input) {
    Outcome o = ParseAll(p, std::string(1, c));
    ASSERT_FALSE(o.error);
    for (auto& a : o.commands) got.push_back(a);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (Args{"SET", "key", "value"}));
  EXPECT_EQ(got[1], (Args{"GET", "key"}));
  EXPECT_EQ(p.buffered_bytes(), 0u);
}

TEST(RespParserTest, InlineCommandWithQuotes) {
  Outcome o = ParseAll("SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n");
  ASSERT_FALSE(o.error);
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0], (Args{"SET", "a b", "c'd", "A\n"}));
}

TEST(RespParserTest, InlineWithoutCarriageReturn) {
  Outcome o = ParseAll("PING\n");
  ASSERT_EQ(o.commands.size(), 1u);
  EXPECT_EQ(o.commands[0], (Args{"PING"}));
}

TEST(RespParserTest, EmptyLinesAndEmptyMultibulkAreSkipped) {
  Outcome o = ParseAll("\r\n   \r\n*0\r\n*-1\r\nPING\r\n");
  ASSERT_FALSE(o.error);
  ASSERT_EQ(o.commands.size(), 1u);
}

TEST(RespParserTest, UnbalancedQuotesIsAnError) {
  Outcome o = ParseAll("SET \"abc\r\n");
  EXPECT_TRUE(o.error);
  EXPECT_EQ(o.error_text, "Protocol error: unbalanced quotes in request");
  EXPECT_TRUE(ParseAll("SET \"a\"b\r\n").error);
}

TEST(RespParserTest, NegativeBulkLengthIsInvalid) {
  Outcome o = ParseAll("*1\r\n$-5\r\n");
  EXPECT_EQ(o.error_text, "Protocol error: invalid bulk length");
}

TEST(RespParserTest, BulkLongerThanProtoMaxBulkLenIsInvalid) {
  RespParserLimits limits;
  limits.proto_max_bulk_len = 10;
  EXPECT_EQ(ParseAll("*1\r\n$11\r\n", limits).error_text, "Protocol error: invalid bulk length");
  EXPECT_FALSE(ParseAll("*1\r\n$10\r\n", limits).error);
  EXPECT_EQ(ParseAll("*1\r\n$99999999999999999999999\r\n").error_text,
            "Protocol error: invalid bulk length");
  EXPECT_EQ(ParseAll("*1\r\n$abc\r\n").error_text, "Protocol error: invalid bulk length");
}

TEST(RespParserTest, HugeOrMalformedMultibulkLengthIsInvalid) {
  EXPECT_EQ(ParseAll("*3000000000\r\n").error_text, "Protocol error: invalid multibulk length");
  EXPECT_EQ(ParseAll("*x\r\n").error_text, "Protocol error: invalid multibulk length");
}

TEST(RespParserTest, ExpectedDollarGotSomethingElse) {
  EXPECT_EQ(ParseAll("*1\r\n:5\r\n").error_text, "Protocol error: expected '$', got ':'");
}

TEST(RespParserTest, TooBigInlineRequest) {
  RespParserLimits limits;
  limits.inline_max_size = 100;
  EXPECT_EQ(ParseAll(std::string(101, 'a'), limits).error_text,
            "Protocol error: too big inline request");
  EXPECT_FALSE(ParseAll(std::string(100, 'a'), limits).error);
}

TEST(RespParserTest, TooBigCountStrings) {
  RespParserLimits limits;
  limits.inline_max_size = 100;
  EXPECT_EQ(ParseAll("*" + std::string(101, '1'), limits).error_text,
            "Protocol error: too big mbulk count string");
  EXPECT_EQ(ParseAll("*1\r\n$" + std::string(101, '1'), limits).error_text,
            "Protocol error: too big bulk count string");
}

TEST(RespParserTest, AnnouncedHugeBulkDoesNotAllocateIt) {
  RespParser p;
  Outcome o = ParseAll(p, "*1\r\n$536870912\r\nabc");
  EXPECT_FALSE(o.error);
  EXPECT_TRUE(o.commands.empty());
  EXPECT_LT(p.buffered_bytes(), 1024u);
  EXPECT_TRUE(p.has_partial());
}

TEST(RespParserTest, UnauthenticatedClientsGetSmallLimits) {
  RespParserLimits limits;
  limits.unauthenticated = true;
  EXPECT_EQ(ParseAll("*11\r\n", limits).error_text,
            "Protocol error: unauthenticated multibulk length");
  EXPECT_EQ(ParseAll("*1\r\n$16385\r\n", limits).error_text,
            "Protocol error: unauthenticated bulk length");
  EXPECT_FALSE(ParseAll("*10\r\n$16384\r\n", limits).error);
}

TEST(RespParserTest, StaysFailedAfterAnError) {
  RespParser p;
  EXPECT_TRUE(ParseAll(p, "*1\r\n$-1\r\n").error);
  EXPECT_TRUE(ParseAll(p, "PING\r\n").error);
}

TEST(RespParserTest, StrictIntegerParsing) {
  int64_t v;
  EXPECT_TRUE(ParseInt64Strict("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_TRUE(ParseInt64Strict("9223372036854775807", &v));
  EXPECT_FALSE(ParseInt64Strict("9223372036854775808", &v));
  EXPECT_FALSE(ParseInt64Strict("01", &v));
  EXPECT_FALSE(ParseInt64Strict("+1", &v));
  EXPECT_FALSE(ParseInt64Strict(" 1", &v));
  EXPECT_FALSE(ParseInt64Strict("-0", &v));
  EXPECT_FALSE(ParseInt64Strict("", &v));
}

// Property: any list of binary arguments encoded as RESP and fed in random
// pieces comes back unchanged.
TEST(RespParserTest, PropertyRoundTripAnySplit) {
  bool ok = rc::check([](const std::vector<std::vector<std::string>>& raw, uint8_t step) {
    std::string wire;
    std::vector<Args> want;
    for (const auto& cmd : raw) {
      if (cmd.empty()) continue;
      want.push_back(cmd);
      wire += "*" + std::to_string(cmd.size()) + "\r\n";
      for (const auto& a : cmd) wire += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    }
    RespParser p;
    std::vector<Args> got;
    size_t chunk = static_cast<size_t>(step % 17) + 1;
    for (size_t i = 0; i < wire.size(); i += chunk) {
      Outcome o = ParseAll(p, wire.substr(i, chunk));
      RC_ASSERT(!o.error);
      for (auto& c : o.commands) got.push_back(c);
    }
    RC_ASSERT(got == want);
  });
  EXPECT_TRUE(ok);
}

// Property: arbitrary bytes never crash the parser and never make it hold
// more than it was given.
TEST(RespParserTest, PropertyGarbageIsHandled) {
  bool ok = rc::check([](const std::string& garbage) {
    RespParser p;
    ParseAll(p, garbage);
    RC_ASSERT(p.buffered_bytes() <= garbage.size());
  });
  EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace dkv::server

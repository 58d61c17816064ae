#include "server/reply.h"

#include <gtest/gtest.h>

namespace dkv::server {
namespace {

TEST(ReplyTest, Resp2Types) {
  std::string out;
  ReplyBuilder r(&out, 2);
  r.Ok();
  r.Error("ERR bad\r\nthing");
  r.Integer(-42);
  r.Bulk("hi");
  r.Null();
  r.NullArray();
  r.MapHeader(2);
  r.Double(1.5);
  r.Boolean(true);
  r.Verbatim("txt");
  EXPECT_EQ(out,
            "+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*4\r\n$3\r\n1.5\r\n:1\r\n"
            "$3\r\ntxt\r\n");
}

TEST(ReplyTest, Resp3Types) {
  std::string out;
  ReplyBuilder r(&out, 3);
  r.Null();
  r.NullArray();
  r.MapHeader(2);
  r.SetHeader(1);
  r.Double(1.5);
  r.Boolean(false);
  r.Verbatim("ab");
  EXPECT_EQ(out, "_\r\n_\r\n%2\r\n~1\r\n,1.5\r\n#f\r\n=6\r\ntxt:ab\r\n");
}

TEST(ReplyTest, DoubleFormatting) {
  EXPECT_EQ(ReplyBuilder::FormatDouble(1.0 / 0.0), "inf");
  EXPECT_EQ(ReplyBuilder::FormatDouble(-1.0 / 0.0), "-inf");
  EXPECT_EQ(ReplyBuilder::FormatDouble(3.0), "3");
  EXPECT_EQ(ReplyBuilder::FormatDouble(0.1), "0.10000000000000001");
}

}  // namespace
}  // namespace dkv::server

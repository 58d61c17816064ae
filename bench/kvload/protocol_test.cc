#include "kvload/protocol.h"

#include <gtest/gtest.h>

namespace dkv::kvload {
namespace {

TEST(KvloadProtocolTest, Base64MatchesRfc4648Vectors) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foob"), "Zm9vYg==");
  EXPECT_EQ(Base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(KvloadProtocolTest, RespEncodesSetAndGet) {
  auto p = NewRespProtocol();
  std::string out;
  p->AppendRequest(Op::kPut, "key", "value", &out);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
  out.clear();
  p->AppendRequest(Op::kGet, "key", "", &out);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
}

TEST(KvloadProtocolTest, RespParsesOneReplyAtATime) {
  auto p = NewRespProtocol();
  size_t n = 0;
  bool close = false;
  EXPECT_EQ(p->Parse("+OK\r\n+OK\r\n", &n, &close), ParseResult::kOk);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(p->Parse("$5\r\nhel", &n, &close), ParseResult::kIncomplete);
  EXPECT_EQ(p->Parse("$5\r\nhello\r\n", &n, &close), ParseResult::kOk);
  EXPECT_EQ(n, 11u);
  EXPECT_EQ(p->Parse("$-1\r\n", &n, &close), ParseResult::kOk);
  EXPECT_EQ(p->Parse("-UNAVAILABLE shard 3 has no leader\r\n", &n, &close), ParseResult::kError);
  EXPECT_EQ(p->Parse("HTTP/1.1 200 OK\r\n", &n, &close), ParseResult::kBroken);
}

TEST(KvloadProtocolTest, EtcdEncodesJsonWithBase64) {
  auto p = NewEtcdHttpProtocol("127.0.0.1:2379");
  std::string out;
  p->AppendRequest(Op::kPut, "foo", "bar", &out);
  const std::string body = "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}";
  EXPECT_EQ(out,
            "POST /v3/kv/put HTTP/1.1\r\nHost: 127.0.0.1:2379\r\nContent-Type: "
            "application/json\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\n\r\n" + body);
  out.clear();
  p->AppendRequest(Op::kGet, "foo", "", &out);
  EXPECT_NE(out.find("POST /v3/kv/range "), std::string::npos);
  EXPECT_NE(out.find("{\"key\":\"Zm9v\"}"), std::string::npos);
}

TEST(KvloadProtocolTest, EtcdParsesContentLengthAndChunkedResponses) {
  auto p = NewEtcdHttpProtocol("h");
  size_t n = 0;
  bool close = false;
  const std::string ok = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
  EXPECT_EQ(p->Parse(ok.substr(0, ok.size() - 1), &n, &close), ParseResult::kIncomplete);
  EXPECT_EQ(p->Parse(ok + "HTTP/1.1", &n, &close), ParseResult::kOk);
  EXPECT_EQ(n, ok.size());
  EXPECT_FALSE(close);
  const std::string chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n";
  EXPECT_EQ(p->Parse(chunked, &n, &close), ParseResult::kOk);
  EXPECT_EQ(n, chunked.size());
  EXPECT_EQ(p->Parse(chunked.substr(0, chunked.size() - 2), &n, &close), ParseResult::kIncomplete);
  const std::string unavailable =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  EXPECT_EQ(p->Parse(unavailable, &n, &close), ParseResult::kError);
  EXPECT_TRUE(close);
}

}  // namespace
}  // namespace dkv::kvload

// Black-box tests of the command handlers through the dispatcher, compared
// with the exact RESP Redis 7 sends.
#include <gtest/gtest.h>

#include "server/test_harness.h"

namespace dkv::server {
namespace {

TEST(StringCommandsTest, SetThenGet) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.Run({"get", "missing"}), "$-1\r\n");
}

TEST(StringCommandsTest, SetNxXxAndGetOptions) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "1", "XX"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"set", "k", "1", "NX"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"set", "k", "2", "NX"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"set", "k", "3", "XX", "GET"}), "$1\r\n1\r\n");
  EXPECT_EQ(h.Run({"set", "k", "3", "NX", "XX"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"set", "k", "3", "bogus"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"set", "new", "1", "GET"}), "$-1\r\n");
}

TEST(StringCommandsTest, SetExpiryOptions) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "10"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":10\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "PX", "1500"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"pttl", "k"}), ":1500\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "KEEPTTL"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"pttl", "k"}), ":1500\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "0"}), "-ERR invalid expire time in 'set' command\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "x"}),
            "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "10", "PX", "10"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "9223372036854775807"}),
            "-ERR invalid expire time in 'set' command\r\n");
  int64_t at = h.clock.now_us / 1000 + 5000;
  EXPECT_EQ(h.Run({"set", "k", "v", "PXAT", std::to_string(at)}), "+OK\r\n");
  EXPECT_EQ(h.Run({"pttl", "k"}), ":5000\r\n");
  h.clock.now_us += 5000 * 1000;
  EXPECT_EQ(h.Run({"get", "k"}), "$-1\r\n");
}

TEST(StringCommandsTest, SetExAndFriends) {
  Harness h;
  EXPECT_EQ(h.Run({"setex", "k", "100", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":100\r\n");
  EXPECT_EQ(h.Run({"setex", "k", "-1", "v"}), "-ERR invalid expire time in 'setex' command\r\n");
  EXPECT_EQ(h.Run({"psetex", "k", "100", "v"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"setnx", "k", "w"}), ":0\r\n");
  EXPECT_EQ(h.Run({"setnx", "k2", "w"}), ":1\r\n");
  EXPECT_EQ(h.Run({"getset", "k2", "x"}), "$1\r\nw\r\n");
  EXPECT_EQ(h.Run({"getdel", "k2"}), "$1\r\nx\r\n");
  EXPECT_EQ(h.Run({"getdel", "k2"}), "$-1\r\n");
}

TEST(StringCommandsTest, GetExChangesTtl) {
  Harness h;
  h.Run({"set", "k", "v"});
  EXPECT_EQ(h.Run({"getex", "k", "EX", "50"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":50\r\n");
  EXPECT_EQ(h.Run({"getex", "k", "PERSIST"}), "$1\r\nv\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(h.Run({"getex", "k", "PERSIST", "EX", "1"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"getex", "nokey"}), "$-1\r\n");
}

TEST(StringCommandsTest, MsetMgetMsetnx) {
  Harness h;
  EXPECT_EQ(h.Run({"mset", "a", "1", "b", "2"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"mget", "a", "x", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n");
  EXPECT_EQ(h.Run({"msetnx", "c", "3", "a", "9"}), ":0\r\n");
  EXPECT_EQ(h.Run({"get", "c"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"msetnx", "c", "3", "d", "4"}), ":1\r\n");
  EXPECT_EQ(h.Run({"dbsize"}), ":4\r\n");
}

TEST(StringCommandsTest, IncrAgainstAKeySetWithSet) {
  Harness h;
  h.Run({"set", "n", "10"});
  EXPECT_EQ(h.Run({"incr", "n"}), ":11\r\n");
  EXPECT_EQ(h.Run({"incrby", "n", "-20"}), ":-9\r\n");
  EXPECT_EQ(h.Run({"decr", "n"}), ":-10\r\n");
  EXPECT_EQ(h.Run({"decrby", "n", "5"}), ":-15\r\n");
  EXPECT_EQ(h.Run({"incr", "fresh"}), ":1\r\n");
}

TEST(StringCommandsTest, IncrErrors) {
  Harness h;
  h.Run({"set", "s", "abc"});
  EXPECT_EQ(h.Run({"incr", "s"}), "-ERR value is not an integer or out of range\r\n");
  h.Run({"set", "s", " 1"});
  EXPECT_EQ(h.Run({"incr", "s"}), "-ERR value is not an integer or out of range\r\n");
  h.Run({"set", "m", "9223372036854775807"});
  EXPECT_EQ(h.Run({"incr", "m"}), "-ERR increment or decrement would overflow\r\n");
  EXPECT_EQ(h.Run({"incrby", "m", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(h.Run({"decrby", "m", "-9223372036854775808"}), "-ERR decrement would overflow\r\n");
}

TEST(StringCommandsTest, IncrKeepsTtl) {
  Harness h;
  h.Run({"set", "n", "1", "EX", "100"});
  h.Run({"incr", "n"});
  EXPECT_EQ(h.Run({"ttl", "n"}), ":100\r\n");
}

TEST(StringCommandsTest, IncrByFloat) {
  Harness h;
  h.Run({"set", "f", "10.50"});
  EXPECT_EQ(h.Run({"incrbyfloat", "f", "0.1"}), "$4\r\n10.6\r\n");
  EXPECT_EQ(h.Run({"incrbyfloat", "f", "-5"}), "$3\r\n5.6\r\n");
  EXPECT_EQ(h.Run({"incrbyfloat", "g", "5.0e3"}), "$4\r\n5000\r\n");
  EXPECT_EQ(h.Run({"incrbyfloat", "f", "abc"}), "-ERR value is not a valid float\r\n");
  EXPECT_EQ(h.Run({"incrbyfloat", "f", "nan"}), "-ERR value is not a valid float\r\n");
}

TEST(StringCommandsTest, AppendStrlenRanges) {
  Harness h;
  EXPECT_EQ(h.Run({"append", "s", "Hello"}), ":5\r\n");
  EXPECT_EQ(h.Run({"append", "s", " World"}), ":11\r\n");
  EXPECT_EQ(h.Run({"strlen", "s"}), ":11\r\n");
  EXPECT_EQ(h.Run({"strlen", "none"}), ":0\r\n");
  EXPECT_EQ(h.Run({"getrange", "s", "0", "4"}), "$5\r\nHello\r\n");
  EXPECT_EQ(h.Run({"getrange", "s", "-5", "-1"}), "$5\r\nWorld\r\n");
  EXPECT_EQ(h.Run({"getrange", "s", "5", "2"}), "$0\r\n\r\n");
  EXPECT_EQ(h.Run({"getrange", "s", "0", "100"}), "$11\r\nHello World\r\n");
  EXPECT_EQ(h.Run({"setrange", "s", "6", "Redis"}), ":11\r\n");
  EXPECT_EQ(h.Run({"get", "s"}), "$11\r\nHello Redis\r\n");
  EXPECT_EQ(h.Run({"setrange", "p", "3", "x"}), ":4\r\n");
  EXPECT_EQ(h.Run({"get", "p"}), std::string("$4\r\n\0\0\0x\r\n", 10));
  EXPECT_EQ(h.Run({"setrange", "p", "-1", "x"}), "-ERR offset is out of range\r\n");
  EXPECT_EQ(h.Run({"setrange", "q", "0", ""}), ":0\r\n");
  EXPECT_EQ(h.Run({"exists", "q"}), ":0\r\n");
}

TEST(KeyCommandsTest, DelExistsType) {
  Harness h;
  h.Run({"mset", "a", "1", "b", "2"});
  EXPECT_EQ(h.Run({"exists", "a", "a", "zz"}), ":2\r\n");
  EXPECT_EQ(h.Run({"type", "a"}), "+string\r\n");
  EXPECT_EQ(h.Run({"type", "zz"}), "+none\r\n");
  EXPECT_EQ(h.Run({"del", "a", "b", "zz"}), ":2\r\n");
  EXPECT_EQ(h.Run({"unlink", "a"}), ":0\r\n");
  EXPECT_EQ(h.Run({"dbsize"}), ":0\r\n");
}

TEST(KeyCommandsTest, ExpireTtlPersist) {
  Harness h;
  EXPECT_EQ(h.Run({"expire", "k", "10"}), ":0\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":-2\r\n");
  h.Run({"set", "k", "v"});
  EXPECT_EQ(h.Run({"expire", "k", "10"}), ":1\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":10\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "20", "NX"}), ":0\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "20", "GT"}), ":1\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "5", "GT"}), ":0\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "5", "LT"}), ":1\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "5", "NX", "XX"}),
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "5", "foo"}), "-ERR Unsupported option foo\r\n");
  EXPECT_EQ(h.Run({"pexpire", "k", "2500"}), ":1\r\n");
  EXPECT_EQ(h.Run({"pttl", "k"}), ":2500\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":3\r\n");
  EXPECT_EQ(h.Run({"persist", "k"}), ":1\r\n");
  EXPECT_EQ(h.Run({"persist", "k"}), ":0\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":-1\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "-1"}), ":1\r\n");
  EXPECT_EQ(h.Run({"exists", "k"}), ":0\r\n");
  h.Run({"set", "k", "v"});
  int64_t at_s = h.clock.now_us / 1000000 + 100;
  EXPECT_EQ(h.Run({"expireat", "k", std::to_string(at_s)}), ":1\r\n");
  EXPECT_EQ(h.Run({"ttl", "k"}), ":100\r\n");
  EXPECT_EQ(h.Run({"pexpireat", "k", "1"}), ":1\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"expire", "k", "x"}), "-ERR value is not an integer or out of range\r\n");
}

TEST(KeyCommandsTest, KeysAndScanWithMatch) {
  Harness h;
  for (int i = 0; i < 30; i++) h.Run({"set", "user:" + std::to_string(i), "v"});
  h.Run({"set", "other", "v"});
  std::string keys = h.Run({"keys", "user:1*"});
  EXPECT_EQ(keys.rfind("*11\r\n", 0), 0u) << keys;  // 1, 10..19
  EXPECT_EQ(h.Run({"keys", "nomatch*"}), "*0\r\n");
  // Page through with SCAN until cursor 0; count everything seen.
  std::string cursor = "0";
  int seen = 0;
  for (int i = 0; i < 100; i++) {
    std::string r = h.Run({"scan", cursor, "MATCH", "user:*", "COUNT", "7"});
    // *2\r\n$<n>\r\n<cursor>\r\n*<m>\r\n...
    size_t p = r.find("\r\n", 4);
    size_t c_end = r.find("\r\n", p + 2);
    cursor = r.substr(p + 2, c_end - p - 2);
    size_t m_end = r.find("\r\n", c_end + 2);
    seen += std::stoi(r.substr(c_end + 3, m_end - c_end - 3));
    if (cursor == "0") break;
  }
  EXPECT_EQ(cursor, "0");
  EXPECT_EQ(seen, 30);
  EXPECT_EQ(h.Run({"scan", "abc"}), "-ERR invalid cursor\r\n");
  EXPECT_EQ(h.Run({"scan", "0", "COUNT", "0"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"scan", "0", "MATCH"}), "-ERR syntax error\r\n");
}

TEST(KeyCommandsTest, RenameAndRenamenx) {
  Harness h;
  EXPECT_EQ(h.Run({"rename", "a", "b"}), "-ERR no such key\r\n");
  h.Run({"set", "a", "1", "EX", "100"});
  EXPECT_EQ(h.Run({"rename", "a", "b"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "b"}), "$1\r\n1\r\n");
  EXPECT_EQ(h.Run({"ttl", "b"}), ":100\r\n");
  EXPECT_EQ(h.Run({"exists", "a"}), ":0\r\n");
  h.Run({"set", "c", "3"});
  EXPECT_EQ(h.Run({"renamenx", "b", "c"}), ":0\r\n");
  EXPECT_EQ(h.Run({"renamenx", "b", "d"}), ":1\r\n");
}

TEST(KeyCommandsTest, FlushdbRandomkeyDbsize) {
  Harness h;
  EXPECT_EQ(h.Run({"randomkey"}), "$-1\r\n");
  h.Run({"mset", "a", "1", "b", "2"});
  std::string r = h.Run({"randomkey"});
  EXPECT_TRUE(r == "$1\r\na\r\n" || r == "$1\r\nb\r\n") << r;
  EXPECT_EQ(h.Run({"flushdb", "bogus"}), "-ERR syntax error\r\n");
  EXPECT_EQ(h.Run({"flushall"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"dbsize"}), ":0\r\n");
}

TEST(ServerCommandsTest, PingEchoSelectTime) {
  Harness h;
  EXPECT_EQ(h.Run({"ping"}), "+PONG\r\n");
  EXPECT_EQ(h.Run({"ping", "hi"}), "$2\r\nhi\r\n");
  EXPECT_EQ(h.Run({"ping", "a", "b"}), "-ERR wrong number of arguments for 'ping' command\r\n");
  EXPECT_EQ(h.Run({"echo", "x"}), "$1\r\nx\r\n");
  EXPECT_EQ(h.Run({"select", "0"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"select", "1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(h.Run({"select", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(h.Run({"time"}), "*2\r\n$10\r\n1700000000\r\n$1\r\n0\r\n");
}

TEST(ServerCommandsTest, HelloSwitchesToResp3) {
  Harness h;
  std::string r = h.Run({"hello", "3"});
  EXPECT_EQ(r.rfind("%7\r\n$6\r\nserver\r\n", 0), 0u) << r;
  EXPECT_EQ(h.client.protocol, 3);
  EXPECT_EQ(h.Run({"get", "nokey"}), "_\r\n");
  EXPECT_EQ(h.Run({"hello", "4"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(h.Run({"hello", "x"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(h.Run({"hello", "2"}).rfind("*14\r\n", 0), 0u);
  EXPECT_EQ(h.Run({"get", "nokey"}), "$-1\r\n");
}

TEST(ServerCommandsTest, HelloWithAuthAndSetname) {
  Harness h;
  h.api.password_ = "pw";
  h.client.authenticated = false;
  EXPECT_EQ(h.Run({"hello", "3"}).rfind("-NOAUTH HELLO must be called", 0), 0u);
  EXPECT_EQ(h.Run({"hello", "3", "AUTH", "default", "bad"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.Run({"hello", "3", "AUTH", "default", "pw", "SETNAME", "me"}).rfind("%7", 0), 0u);
  EXPECT_EQ(h.Run({"client", "getname"}), "$2\r\nme\r\n");
}

TEST(ServerCommandsTest, ClientSubcommands) {
  Harness h;
  EXPECT_EQ(h.Run({"client", "id"}), ":1\r\n");
  EXPECT_EQ(h.Run({"client", "getname"}), "$-1\r\n");
  EXPECT_EQ(h.Run({"client", "setname", "a b"}),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(h.Run({"client", "setname", "conn1"}), "+OK\r\n");
  std::string list = h.Run({"client", "list"});
  EXPECT_NE(list.find("id=1 addr=127.0.0.1:5000"), std::string::npos) << list;
  EXPECT_NE(list.find("name=conn1"), std::string::npos);
  EXPECT_EQ(h.Run({"client", "kill", "127.0.0.1:9"}), "-ERR No such client\r\n");
  EXPECT_EQ(h.Run({"client", "kill", "ID", "2"}), ":1\r\n");
  EXPECT_TRUE(h.other.killed);
  EXPECT_EQ(h.Run({"client", "bogus"}), "-ERR unknown subcommand 'bogus'. Try CLIENT HELP.\r\n");
}

TEST(ServerCommandsTest, ConfigGetSet) {
  Harness h;
  EXPECT_EQ(h.Run({"config", "get", "maxc*"}), "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n");
  EXPECT_EQ(h.Run({"config", "set", "maxclients", "5"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"config", "get", "maxclients"}), "*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n");
  EXPECT_EQ(h.Run({"config", "set", "nosuch", "1"}),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n");
  EXPECT_EQ(h.Run({"config", "set", "port", "1"}),
            "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable "
            "config\r\n");
  EXPECT_EQ(h.Run({"config", "get"}),
            "-ERR wrong number of arguments for 'config|get' command\r\n");
}

TEST(ServerCommandsTest, InfoIsBulkInResp2AndVerbatimInResp3) {
  Harness h;
  EXPECT_EQ(h.Run({"info"}).rfind("$", 0), 0u);
  h.client.protocol = 3;
  EXPECT_EQ(h.Run({"info", "server"}).rfind("=", 0), 0u);
}

TEST(ServerCommandsTest, QuitClosesAfterReply) {
  Harness h;
  EXPECT_EQ(h.Run({"quit"}), "+OK\r\n");
  EXPECT_TRUE(h.client.close_after_reply);
}

TEST(ServerCommandsTest, ClientKillOfOneselfClosesAfterItsReply) {
  Harness h;
  EXPECT_EQ(h.Run({"client", "kill", "ID", "1"}), ":1\r\n");
  EXPECT_TRUE(h.client.close_after_reply);  // the reply goes out first
  EXPECT_FALSE(h.client.killed);
  EXPECT_EQ(h.Run({"client", "kill", "127.0.0.1:5001"}), "+OK\r\n");
  EXPECT_TRUE(h.other.killed);  // another client is closed at once
}

TEST(TransactionTest, WatchedKeyExpiringByItselfFailsExec) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v", "PX", "100"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"watch", "k"}), "+OK\r\n");
  h.clock.now_us += 200 * 1000;  // k's TTL passes; nothing touches it
  EXPECT_EQ(h.Run({"multi"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"set", "x", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(h.Run({"exec"}), "*-1\r\n");
  EXPECT_EQ(h.Run({"get", "x"}), "$-1\r\n");
}

TEST(TransactionTest, WatchedKeyAlreadyExpiredAtWatchDoesNotFailExec) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v", "PX", "100"}), "+OK\r\n");
  h.clock.now_us += 200 * 1000;
  EXPECT_EQ(h.Run({"watch", "k"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"multi"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"set", "x", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(h.Run({"exec"}), "*1\r\n+OK\r\n");
}

TEST(TransactionTest, WatchedKeyWithFutureTtlDoesNotFailExec) {
  Harness h;
  EXPECT_EQ(h.Run({"set", "k", "v", "EX", "100"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"watch", "k"}), "+OK\r\n");
  h.clock.now_us += 1000 * 1000;
  EXPECT_EQ(h.Run({"multi"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"exec"}), "*0\r\n");
}

TEST(GlobTest, RedisPatterns) {
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_TRUE(GlobMatch("h*llo", "heeeello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-b]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("h\\*llo", "h*llo"));
  EXPECT_FALSE(GlobMatch("h\\*llo", "hello"));
  EXPECT_TRUE(GlobMatch("*", "x"));
  EXPECT_FALSE(GlobMatch("a*b", "a"));
  EXPECT_TRUE(GlobMatch("MAXC*", "maxclients", true));
}

}  // namespace
}  // namespace dkv::server

// Black-box tests of distkv-server: the real binary on a loopback port,
// driven with hiredis, raw sockets and redis-cli.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "server_process.h"

namespace dkv::server::testing {
namespace {

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Ctx = std::unique_ptr<redisContext, ContextDeleter>;
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Ctx Connect(int port) {
  timeval tv{10, 0};
  Ctx c(redisConnectWithTimeout("127.0.0.1", port, tv));
  EXPECT_TRUE(c && !c->err) << (c ? c->errstr : "null");
  if (c) redisSetTimeout(c.get(), tv);
  return c;
}

Reply Cmd(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data())));
}

std::string Str(const Reply& r) {
  if (!r) return "<no reply>";
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_ERROR:
      return "ERR:" + std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return ":" + std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "<nil>";
    case REDIS_REPLY_ARRAY:
      return "<array " + std::to_string(r->elements) + ">";
  }
  return "?";
}

std::string RunRedisCli(int port, const std::string& args) {
  std::string cmd = "redis-cli -p " + std::to_string(port) + " " + args + " 2>&1";
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(ServerIntegrationTest, SetGetWithBinaryKeysAndValues) {
  ServerProcess server;
  Ctx c = Connect(server.port());
  std::string key("k\0\r\n\xff", 5), value("v\0\r\nvalue", 9);
  EXPECT_EQ(Str(Cmd(c.get(), {"SET", key, value})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", key})), value);
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "nokey"})), "<nil>");
  EXPECT_EQ(Str(Cmd(c.get(), {"DEL", key})), ":1");
}

TEST(ServerIntegrationTest, ErrorTextsMatchRedis) {
  ServerProcess server;
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"FOO", "a"})),
            "ERR:ERR unknown command 'FOO', with args beginning with: 'a' ");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET"})), "ERR:ERR wrong number of arguments for 'get' command");
  EXPECT_EQ(Str(Cmd(c.get(), {"SET", "k", "v", "EX"})), "ERR:ERR syntax error");
  Cmd(c.get(), {"SET", "s", "x"});
  EXPECT_EQ(Str(Cmd(c.get(), {"INCR", "s"})), "ERR:ERR value is not an integer or out of range");
}

TEST(ServerIntegrationTest, PipelinedRepliesComeBackInOrder) {
  ServerProcess server;
  RawConn conn(server.port());
  std::string req, want;
  for (int i = 0; i < 1000; i++) {
    std::string v = std::to_string(i);
    req += "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
    req += "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    want += "+OK\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
  }
  ASSERT_TRUE(conn.Send(req));
  EXPECT_EQ(conn.ReadN(want.size()), want);
}

// Writes sent in several bursts without reading in between: while the
// first burst's replies wait for their commit the server reads nothing more
// from this client (it reads again once the commit releases them), and the
// later bursts are still all served, in order.
TEST(ServerIntegrationTest, WritesSentInBurstsWithoutReadingAreAllServed) {
  ServerProcess server;
  RawConn conn(server.port());
  std::string want;
  for (int burst = 0; burst < 5; burst++) {
    std::string req;
    for (int i = 0; i < 200; i++) {
      const std::string v = std::to_string(burst * 1000 + i);
      req += "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + std::to_string(v.size()) + "\r\n" + v + "\r\n";
      want += "+OK\r\n";
    }
    ASSERT_TRUE(conn.Send(req));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(conn.Send("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"));
  want += "$4\r\n4199\r\n";
  EXPECT_EQ(conn.ReadN(want.size()), want);
}

// More commands in one read than the server runs per round: the rest must
// still run without the client sending anything else.
TEST(ServerIntegrationTest, DeepPipelineIsFullyServed) {
  ServerProcess server;
  RawConn conn(server.port());
  std::string req, want;
  for (int i = 0; i < 20000; i++) {
    req += "*1\r\n$4\r\nPING\r\n";
    want += "+PONG\r\n";
  }
  ASSERT_TRUE(conn.Send(req));
  EXPECT_EQ(conn.ReadN(want.size()), want);
}

// A client that sends a deep pipeline of large replies before reading any
// is paused, not dropped, and gets every reply.
TEST(ServerIntegrationTest, SlowReaderOfLargeRepliesGetsThemAll) {
  ServerProcess server;
  RawConn conn(server.port());
  std::string big(100000, 'b');
  ASSERT_EQ(conn.Call({"SET", "big", big}, 5), "+OK\r\n");
  std::string one = "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  std::string req;
  for (int i = 0; i < 300; i++) req += one;  // 30 MB of replies
  ASSERT_TRUE(conn.Send(req));
  std::string reply = "$100000\r\n" + big + "\r\n";
  for (int i = 0; i < 300; i++) ASSERT_EQ(conn.ReadN(reply.size()), reply) << i;
}

TEST(ServerIntegrationTest, InlineCommandsWork) {
  ServerProcess server;
  RawConn conn(server.port());
  conn.Send("SET \"a key\" 'v 1'\r\nGET \"a key\"\r\n");
  EXPECT_EQ(conn.ReadN(5 + 9), "+OK\r\n$3\r\nv 1\r\n");
}

// Each malformed input gets Redis's error and its connection is closed,
// while another connection keeps being served.
TEST(ServerIntegrationTest, MalformedInputClosesOnlyThatConnection) {
  ServerProcess server;
  struct Case {
    std::string input;
    std::string reply;
  };
  std::vector<Case> cases = {
      {"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$99999999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*1\r\n$536870913\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
      {"*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
      {"*1\r\n:1\r\n", "-ERR Protocol error: expected '$', got ':'\r\n"},
      {"SET \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
      {std::string(70000, 'x'), "-ERR Protocol error: too big inline request\r\n"},
  };
  RawConn good(server.port());
  for (const Case& c : cases) {
    RawConn bad(server.port());
    ASSERT_TRUE(bad.Send(c.input));
    std::string got;
    EXPECT_TRUE(bad.ReadToEof(&got)) << c.reply;
    EXPECT_EQ(got, c.reply);
    EXPECT_EQ(good.Call({"PING"}, 7), "+PONG\r\n");
  }
}

TEST(ServerIntegrationTest, ReplyBeforeProtocolErrorIsDelivered) {
  ServerProcess server;
  RawConn conn(server.port());
  conn.Send("PING\r\n*1\r\n$-3\r\n");
  std::string got;
  EXPECT_TRUE(conn.ReadToEof(&got));
  EXPECT_EQ(got, "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n");
}

TEST(ServerIntegrationTest, QueryBufferLimitClosesTheClient) {
  ServerProcess server({"--client-query-buffer-limit", "1048576"});
  RawConn conn(server.port());
  // Announce a 100 MB argument and send 2 MB of it: over the 1 MB limit.
  conn.Send("*2\r\n$3\r\nSET\r\n$100000000\r\n");
  conn.Send(std::string(2 << 20, 'a'));  // may fail midway once closed
  std::string got;
  EXPECT_TRUE(conn.ReadToEof(&got));
  RawConn other(server.port());
  EXPECT_EQ(other.Call({"PING"}, 7), "+PONG\r\n");
}

TEST(ServerIntegrationTest, ManyConnectionsAreServed) {
  ServerProcess server;
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 200; i++) conns.push_back(std::make_unique<RawConn>(server.port()));
  for (size_t i = 0; i < conns.size(); i++) {
    std::string v = std::to_string(i);
    EXPECT_EQ(conns[i]->Call({"SET", "k" + v, v}, 5), "+OK\r\n");
  }
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"DBSIZE"})), ":200");
}

TEST(ServerIntegrationTest, MaxClientsRejectsTheExtraClient) {
  ServerProcess server({"--maxclients", "2"});
  RawConn a(server.port()), b(server.port());
  EXPECT_EQ(a.Call({"PING"}, 7), "+PONG\r\n");
  EXPECT_EQ(b.Call({"PING"}, 7), "+PONG\r\n");
  RawConn c(server.port());
  std::string got;
  EXPECT_TRUE(c.ReadToEof(&got));
  EXPECT_EQ(got, "-ERR max number of clients reached\r\n");
}

TEST(ServerIntegrationTest, IdleClientIsClosedAfterTimeout) {
  ServerProcess server({"--timeout", "1"});
  RawConn conn(server.port());
  EXPECT_EQ(conn.Call({"PING"}, 7), "+PONG\r\n");
  std::string got;
  EXPECT_TRUE(conn.ReadToEof(&got));  // the server closes it (recv times out at 10 s)
}

TEST(ServerIntegrationTest, QuitRepliesOkAndCloses) {
  ServerProcess server;
  RawConn conn(server.port());
  conn.Send("*1\r\n$4\r\nQUIT\r\n");
  std::string got;
  EXPECT_TRUE(conn.ReadToEof(&got));
  EXPECT_EQ(got, "+OK\r\n");
}

TEST(ServerIntegrationTest, Resp3AfterHello) {
  ServerProcess server;
  RawConn conn(server.port());
  conn.Send("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n");
  std::string hello = conn.ReadN(4);
  EXPECT_EQ(hello, "%7\r\n");
  conn.ReadN(1);  // drain some of the map; the rest is read below with the next reply
  // Read the rest of the HELLO map by asking for a known tail afterwards.
  conn.Send("*2\r\n$3\r\nGET\r\n$5\r\nnokey\r\n");
  std::string rest;
  while (rest.size() < 3 || rest.substr(rest.size() - 3) != "_\r\n") {
    std::string more = conn.ReadN(1);
    if (more.empty()) break;
    rest += more;
  }
  EXPECT_EQ(rest.substr(rest.size() - 3), "_\r\n");
}

TEST(ServerIntegrationTest, RequirepassNeedsAuth) {
  ServerProcess server({"--requirepass", "s3cret"});
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "k"})), "ERR:NOAUTH Authentication required.");
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "bad"})),
            "ERR:WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "s3cret"})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "k"})), "<nil>");
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "default", "s3cret"})), "OK");
}

TEST(ServerIntegrationTest, UnauthenticatedClientCannotSendBigRequests) {
  ServerProcess server({"--requirepass", "s3cret"});
  RawConn conn(server.port());
  conn.Send("*2\r\n$3\r\nGET\r\n$100000\r\n");
  std::string got;
  EXPECT_TRUE(conn.ReadToEof(&got));
  EXPECT_EQ(got, "-ERR Protocol error: unauthenticated bulk length\r\n");
  // After AUTH the normal limits apply.
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "s3cret"})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"SET", "big", std::string(100000, 'x')})), "OK");
}

TEST(ServerIntegrationTest, MultiExecAndWatchAcrossConnections) {
  ServerProcess server;
  Ctx a = Connect(server.port());
  Ctx b = Connect(server.port());
  EXPECT_EQ(Str(Cmd(a.get(), {"WATCH", "w"})), "OK");
  EXPECT_EQ(Str(Cmd(b.get(), {"SET", "w", "b"})), "OK");
  EXPECT_EQ(Str(Cmd(a.get(), {"MULTI"})), "OK");
  EXPECT_EQ(Str(Cmd(a.get(), {"SET", "w", "a"})), "QUEUED");
  EXPECT_EQ(Str(Cmd(a.get(), {"EXEC"})), "<nil>");
  EXPECT_EQ(Str(Cmd(a.get(), {"MULTI"})), "OK");
  Cmd(a.get(), {"INCR", "n"});
  Cmd(a.get(), {"INCR", "n"});
  Reply r = Cmd(a.get(), {"EXEC"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 2u);
  EXPECT_EQ(r->element[1]->integer, 2);
}

TEST(ServerIntegrationTest, ClientListAndKill) {
  ServerProcess server;
  Ctx a = Connect(server.port());
  Ctx b = Connect(server.port());
  Cmd(b.get(), {"CLIENT", "SETNAME", "victim"});
  Reply id = Cmd(b.get(), {"CLIENT", "ID"});
  std::string list = Str(Cmd(a.get(), {"CLIENT", "LIST"}));
  EXPECT_NE(list.find("name=victim"), std::string::npos) << list;
  EXPECT_EQ(Str(Cmd(a.get(), {"CLIENT", "KILL", "ID", std::to_string(id->integer)})), ":1");
  EXPECT_EQ(Str(Cmd(b.get(), {"PING"})), "<no reply>");
  EXPECT_EQ(Str(Cmd(a.get(), {"PING"})), "PONG");
}

TEST(ServerIntegrationTest, ClientKillOfOneselfDeliversTheReplyThenCloses) {
  ServerProcess server;
  Ctx a = Connect(server.port());
  Reply id = Cmd(a.get(), {"CLIENT", "ID"});
  EXPECT_EQ(Str(Cmd(a.get(), {"CLIENT", "KILL", "ID", std::to_string(id->integer)})), ":1");
  EXPECT_EQ(Str(Cmd(a.get(), {"PING"})), "<no reply>");
  // The old form answers +OK, also when it names the caller.
  RawConn raw(server.port());
  std::string info = raw.Call({"CLIENT", "INFO"}, 1);
  std::string more;
  while (info.find("\r\n", info.find("\r\n") + 2) == std::string::npos) {
    std::string part = raw.ReadN(1);
    if (part.empty()) break;
    info += part;
  }
  size_t at = info.find(" addr=");
  ASSERT_NE(at, std::string::npos) << info;
  std::string addr = info.substr(at + 6, info.find(' ', at + 6) - (at + 6));
  EXPECT_EQ(raw.Call({"CLIENT", "KILL", addr}, 5), "+OK\r\n");
  EXPECT_TRUE(raw.ReadToEof(&more));
  EXPECT_EQ(more, "");
}

// SIGTERM while replies are owed (here 24 MiB of them, more than the socket
// buffers hold, produced before the signal is handled because DEBUG SLEEP
// holds the loop): the client still receives every reply, then EOF.
TEST(ServerIntegrationTest, SigtermDeliversPendingRepliesBeforeClosing) {
  ServerProcess server;
  const std::string big(1 << 20, 'v');
  {
    Ctx c = Connect(server.port());
    EXPECT_EQ(Str(Cmd(c.get(), {"SET", "big", big})), "OK");
  }
  RawConn raw(server.port());
  const int kGets = 24;
  std::string req = "*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n$3\r\n0.5\r\n";
  for (int i = 0; i < kGets; i++) req += "*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n";
  req += "*3\r\n$3\r\nSET\r\n$4\r\nlast\r\n$1\r\n1\r\n";
  ASSERT_TRUE(raw.Send(req));
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // inside DEBUG SLEEP
  server.Signal(SIGTERM);
  std::string got;
  EXPECT_TRUE(raw.ReadToEof(&got));
  std::string expected = "+OK\r\n";
  for (int i = 0; i < kGets; i++)
    expected += "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n";
  expected += "+OK\r\n";
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
  int status = server.Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  server.Start();
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "last"})), "1");  // acknowledged, so durable
}

// redis-cli without a terminal prints raw values ("50", an empty line for nil).
TEST(ServerIntegrationTest, RedisCliTalksToIt) {
  ServerProcess server;
  EXPECT_EQ(RunRedisCli(server.port(), "SET cli 42"), "OK\n");
  EXPECT_EQ(RunRedisCli(server.port(), "INCRBY cli 8"), "50\n");
  EXPECT_EQ(RunRedisCli(server.port(), "--scan"), "cli\n");
  EXPECT_EQ(RunRedisCli(server.port(), "-3 GET nokey"), "\n");
  EXPECT_EQ(RunRedisCli(server.port(), "CONFIG GET appendfsync"), "appendfsync\nalways\n");
  std::string info = RunRedisCli(server.port(), "INFO keyspace");
  EXPECT_NE(info.find("db0:keys=1"), std::string::npos) << info;
}

TEST(ServerIntegrationTest, SigtermKeepsDataAndExpiry) {
  ServerProcess server;
  {
    Ctx c = Connect(server.port());
    EXPECT_EQ(Str(Cmd(c.get(), {"SET", "forever", "1"})), "OK");
    EXPECT_EQ(Str(Cmd(c.get(), {"SET", "ttl", "2", "EX", "1000"})), "OK");
    EXPECT_EQ(Str(Cmd(c.get(), {"SET", "gone", "3", "PX", "1"})), "OK");
  }
  int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  server.Start();
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "forever"})), "1");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "ttl"})), "2");
  Reply ttl = Cmd(c.get(), {"TTL", "ttl"});
  EXPECT_GT(ttl->integer, 900);
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "gone"})), "<nil>");
}

// Every write acknowledged before a kill -9 is there after the restart, with
// many clients writing concurrently (a process crash loses nothing
// acknowledged under every appendfsync policy).
void ExpectKillDashNineLosesNoAcknowledgedWrite(const std::vector<std::string>& args) {
  ServerProcess server(args);
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 8; t++) {
    writers.emplace_back([&, t] {
      Ctx c = Connect(server.port());
      for (int i = 0; !stop.load(); i++) {
        std::string key = "w" + std::to_string(t) + ":" + std::to_string(i);
        Reply r = Cmd(c.get(), {"SET", key, key});
        if (!r || r->type != REDIS_REPLY_STATUS) return;  // killed
        std::lock_guard<std::mutex> l(mu);
        acked.insert(key);
      }
    });
  }
  // Let some writes through, then kill without warning.
  while (true) {
    {
      std::lock_guard<std::mutex> l(mu);
      if (acked.size() >= 2000) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  server.Kill(SIGKILL);
  stop = true;
  for (auto& w : writers) w.join();
  server.Start();
  Ctx c = Connect(server.port());
  size_t missing = 0;
  for (const std::string& key : acked) {
    if (Str(Cmd(c.get(), {"GET", key})) != key) missing++;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
}

TEST(ServerIntegrationTest, KillDashNineLosesNoAcknowledgedWrite) {
  ExpectKillDashNineLosesNoAcknowledgedWrite({});  // appendfsync always
}

// Unsynced commits run on the event loop (no commit thread hand-off): the
// reply still leaves only after the WAL write.
TEST(ServerIntegrationTest, KillDashNineLosesNoAcknowledgedWriteUnderAppendfsyncNo) {
  ExpectKillDashNineLosesNoAcknowledgedWrite({"--appendfsync", "no"});
}

TEST(ServerIntegrationTest, KillDashNineLosesNoAcknowledgedWriteUnderAppendfsyncEverysec) {
  ExpectKillDashNineLosesNoAcknowledgedWrite({"--appendfsync", "everysec"});
}

// A temp directory removed at the end of the test.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/dkv-server-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string path;
};

int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

TEST(ServerIntegrationTest, TlsPortServesRedisCliWithSelfSignedCert) {
  if (Shell("openssl version") != 0) GTEST_SKIP() << "no openssl CLI";
  TempDir tmp;
  ASSERT_EQ(Shell("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " +
                  tmp.path + "/key.pem -out " + tmp.path + "/cert.pem"),
            0);
  int tls_port = FreePort();
  ServerProcess server({"--tls-port", std::to_string(tls_port), "--tls-cert-file",
                        tmp.path + "/cert.pem", "--tls-key-file", tmp.path + "/key.pem"});
  std::string tls =
      "--tls --cacert " + tmp.path + "/cert.pem -h localhost -p " + std::to_string(tls_port) + " ";
  std::string cli = "redis-cli " + tls;
  if (Shell("redis-cli --tls --help") != 0) GTEST_SKIP() << "redis-cli built without TLS";
  std::string out;
  auto run = [&](const std::string& args) {
    out.clear();
    FILE* p = ::popen((cli + args + " 2>&1").c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
  };
  EXPECT_EQ(run("SET tlskey tlsvalue"), "OK\n");
  EXPECT_EQ(run("GET tlskey"), "tlsvalue\n");
  // The plain port sees the same keyspace.
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "tlskey"})), "tlsvalue");
  // A plain-text client on the TLS port fails the handshake; the server lives on.
  RawConn plain(tls_port);
  plain.Send("PING\r\n");
  std::string got;
  plain.ReadToEof(&got);
  EXPECT_EQ(got.find("+PONG"), std::string::npos);
  EXPECT_EQ(Str(Cmd(c.get(), {"PING"})), "PONG");
}

TEST(ServerIntegrationTest, AdminHttpServesHealthAndMetrics) {
  int admin = FreePort();
  ServerProcess server({"--admin-port", std::to_string(admin)});
  Ctx c = Connect(server.port());
  Cmd(c.get(), {"SET", "m", "1"});
  {
    RawConn http(admin);
    http.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string got;
    EXPECT_TRUE(http.ReadToEof(&got));
    EXPECT_EQ(got.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << got;
    EXPECT_EQ(got.substr(got.size() - 3), "OK\n");
  }
  {
    RawConn http(admin);
    http.Send("GET /metrics HTTP/1.1\r\n\r\n");
    std::string got;
    EXPECT_TRUE(http.ReadToEof(&got));
    EXPECT_NE(got.find("\ndistkv_keys 1\n"), std::string::npos) << got;
    EXPECT_NE(got.find("# TYPE distkv_commands_processed_total counter"), std::string::npos);
  }
  {
    RawConn http(admin);
    http.Send("GET /nope HTTP/1.1\r\n\r\n");
    std::string got;
    http.ReadToEof(&got);
    EXPECT_EQ(got.rfind("HTTP/1.0 404", 0), 0u);
  }
}

TEST(ServerIntegrationTest, TomlConfigWithAclUsers) {
  TempDir tmp;
  {
    std::ofstream f(tmp.path + "/distkv.toml");
    f << "requirepass = \"top\"\nmaxclients = 50\nappendfsync = \"everysec\"\n"
         "[[users]]\nname = \"app\"\npassword = \"app-pw\"\n";
  }
  ServerProcess server({"--config", tmp.path + "/distkv.toml"});
  Ctx c = Connect(server.port());
  EXPECT_EQ(Str(Cmd(c.get(), {"PING"})), "ERR:NOAUTH Authentication required.");
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "app", "wrong"})),
            "ERR:WRONGPASS invalid username-password pair or user is disabled.");
  EXPECT_EQ(Str(Cmd(c.get(), {"AUTH", "app", "app-pw"})), "OK");
  Reply r = Cmd(c.get(), {"CONFIG", "GET", "maxclients"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(std::string(r->element[1]->str), "50");
  r = Cmd(c.get(), {"CONFIG", "GET", "appendfsync"});
  EXPECT_EQ(std::string(r->element[1]->str), "everysec");
  EXPECT_EQ(Str(Cmd(c.get(), {"CONFIG", "SET", "appendfsync", "always"})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"CONFIG", "SET", "port", "1"})),
            "ERR:ERR CONFIG SET failed (possibly related to argument 'port') - can't set "
            "immutable config");
}

TEST(ServerIntegrationTest, ValueCacheSizeIsConfigurableAndReportedInInfo) {
  ServerProcess server({"--value-cache-size", "0"});
  Ctx c = Connect(server.port());
  Reply r = Cmd(c.get(), {"CONFIG", "GET", "value-cache-size"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(std::string(r->element[1]->str), "0");
  EXPECT_EQ(Str(Cmd(c.get(), {"SET", "k", "v"})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "k"})), "v");  // off: served by the engine
  std::string info = Str(Cmd(c.get(), {"INFO", "memory"}));
  EXPECT_NE(info.find("value_cache_size:0\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("value_cache_used:0\r\n"), std::string::npos) << info;

  EXPECT_EQ(Str(Cmd(c.get(), {"CONFIG", "SET", "value-cache-size", "1048576"})), "OK");
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "k"})), "v");  // a miss that fills it
  EXPECT_EQ(Str(Cmd(c.get(), {"GET", "k"})), "v");  // a hit
  info = Str(Cmd(c.get(), {"INFO", "memory"}));
  EXPECT_NE(info.find("value_cache_size:1048576\r\n"), std::string::npos) << info;
  EXPECT_NE(info.find("value_cache_keys:1\r\n"), std::string::npos) << info;
  info = Str(Cmd(c.get(), {"INFO", "stats"}));
  EXPECT_NE(info.find("value_cache_hits:1\r\n"), std::string::npos) << info;

  EXPECT_EQ(Str(Cmd(c.get(), {"CONFIG", "SET", "value-cache-size", "-1"})),
            "ERR:ERR CONFIG SET failed (possibly related to argument 'value-cache-size') - "
            "argument must be a memory value");
  EXPECT_EQ(Str(Cmd(c.get(), {"CONFIG", "SET", "value-cache-size", "lots"})),
            "ERR:ERR CONFIG SET failed (possibly related to argument 'value-cache-size') - "
            "argument must be a memory value");
}

}  // namespace
}  // namespace dkv::server::testing

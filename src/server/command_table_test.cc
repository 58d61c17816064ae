#include "server/command_table.h"

#include <gtest/gtest.h>

#include <cctype>

#include "server/test_harness.h"

namespace dkv::server {
namespace {

TEST(CommandTableTest, LookupIsCaseInsensitive) {
  ASSERT_NE(FindCommand("GeT"), nullptr);
  EXPECT_STREQ(FindCommand("GET")->name, "get");
  EXPECT_EQ(FindCommand("nosuch"), nullptr);
  EXPECT_EQ(FindCommand(""), nullptr);
  EXPECT_EQ(FindCommand("ge"), nullptr);
  EXPECT_EQ(FindCommand("gett"), nullptr);
}

TEST(CommandTableTest, EveryCommandIsFoundByItsNameInAnyCase) {
  for (const CommandSpec& c : AllCommands()) {
    std::string upper = c.name;
    for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    EXPECT_EQ(FindCommand(c.name), &c) << c.name;
    EXPECT_EQ(FindCommand(upper), &c) << upper;
  }
}

TEST(CommandTableTest, EveryRowIsWellFormed) {
  for (const CommandSpec& c : AllCommands()) {
    EXPECT_NE(c.arity, 0) << c.name;
    EXPECT_NE(c.handler, nullptr) << c.name;
    EXPECT_FALSE((c.flags & kCmdWrite) && (c.flags & kCmdReadonly)) << c.name;
    if (c.first_key == 0) {
      EXPECT_EQ(c.last_key, 0) << c.name;
    }
  }
}

TEST(CommandTableTest, UnknownCommandErrorMatchesRedis) {
  Harness h;
  EXPECT_EQ(h.Run({"foo", "a", "b"}),
            "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n");
  EXPECT_EQ(h.Run({"foo"}), "-ERR unknown command 'foo', with args beginning with: \r\n");
}

TEST(CommandTableTest, WrongArityErrorMatchesRedis) {
  Harness h;
  EXPECT_EQ(h.Run({"GET"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(h.Run({"get", "a", "b"}), "-ERR wrong number of arguments for 'get' command\r\n");
  EXPECT_EQ(h.Run({"set", "a"}), "-ERR wrong number of arguments for 'set' command\r\n");
  EXPECT_EQ(h.Run({"mset", "a", "b", "c"}),
            "-ERR wrong number of arguments for 'mset' command\r\n");
}

TEST(CommandTableTest, CommandCountAndInfoComeFromTheTable) {
  Harness h;
  EXPECT_EQ(h.Run({"command", "count"}), ":" + std::to_string(AllCommands().size()) + "\r\n");
  std::string info = h.Run({"command", "info", "get"});
  EXPECT_EQ(info.rfind("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n", 0), 0u) << info;
  EXPECT_NE(info.find("+readonly\r\n"), std::string::npos);
  EXPECT_EQ(h.Run({"command", "info", "nosuch"}), "*1\r\n*-1\r\n");
  std::string docs = h.Run({"command", "docs", "get"});
  EXPECT_NE(docs.find("Returns the string value of a key."), std::string::npos);
  EXPECT_EQ(h.Run({"command", "bogus"}), "-ERR unknown subcommand 'bogus'. Try COMMAND HELP.\r\n");
}

TEST(CommandTableTest, NoAuthBeforeAuthentication) {
  Harness h;
  h.api.password_ = "secret";
  h.client.authenticated = false;
  EXPECT_EQ(h.Run({"get", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(h.Run({"auth", "wrong"}),
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n");
  EXPECT_EQ(h.Run({"auth", "secret"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "k"}), "$-1\r\n");
}

TEST(CommandTableTest, AuthWithoutPasswordConfigured) {
  Harness h;
  EXPECT_EQ(h.Run({"auth", "x"}).rfind("-ERR AUTH <password> called without any password", 0), 0u);
}

TEST(MultiTest, QueuedCommandsRunAtExec) {
  Harness h;
  EXPECT_EQ(h.Run({"multi"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"set", "a", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(h.Run({"incr", "a"}), "+QUEUED\r\n");
  EXPECT_EQ(h.Run({"get", "a"}, &h.other), "$-1\r\n");
  EXPECT_EQ(h.Run({"exec"}), "*2\r\n+OK\r\n:2\r\n");
}

TEST(MultiTest, ErrorWhileQueuingAbortsExec) {
  Harness h;
  h.Run({"multi"});
  EXPECT_EQ(h.Run({"set", "a"}), "-ERR wrong number of arguments for 'set' command\r\n");
  h.Run({"set", "a", "1"});
  EXPECT_EQ(h.Run({"exec"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(h.Run({"get", "a"}), "$-1\r\n");
}

TEST(MultiTest, RuntimeErrorDoesNotStopOtherCommands) {
  Harness h;
  h.Run({"set", "s", "abc"});
  h.Run({"multi"});
  h.Run({"incr", "s"});
  h.Run({"set", "b", "2"});
  EXPECT_EQ(h.Run({"exec"}), "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n");
}

TEST(MultiTest, NestedMultiExecWithoutMultiDiscard) {
  Harness h;
  EXPECT_EQ(h.Run({"exec"}), "-ERR EXEC without MULTI\r\n");
  EXPECT_EQ(h.Run({"discard"}), "-ERR DISCARD without MULTI\r\n");
  h.Run({"multi"});
  EXPECT_EQ(h.Run({"multi"}), "-ERR MULTI calls can not be nested\r\n");
  EXPECT_EQ(h.Run({"watch", "x"}), "-ERR WATCH inside MULTI is not allowed\r\n");
  h.Run({"set", "x", "1"});
  EXPECT_EQ(h.Run({"discard"}), "+OK\r\n");
  EXPECT_EQ(h.Run({"get", "x"}), "$-1\r\n");
}

TEST(MultiTest, WatchedKeyChangedByAnotherClientMakesExecNull) {
  Harness h;
  EXPECT_EQ(h.Run({"watch", "w"}), "+OK\r\n");
  h.Run({"set", "w", "other"}, &h.other);
  h.Run({"multi"});
  h.Run({"set", "w", "mine"});
  EXPECT_EQ(h.Run({"exec"}), "*-1\r\n");
  EXPECT_EQ(h.Run({"get", "w"}), "$5\r\nother\r\n");
  // The watch is gone after EXEC: a new transaction succeeds.
  h.Run({"multi"});
  h.Run({"set", "w", "mine"});
  EXPECT_EQ(h.Run({"exec"}), "*1\r\n+OK\r\n");
}

TEST(MultiTest, UnwatchForgetsWatches) {
  Harness h;
  h.Run({"watch", "w"});
  h.Run({"unwatch"});
  h.Run({"set", "w", "other"}, &h.other);
  h.Run({"multi"});
  h.Run({"get", "w"});
  EXPECT_EQ(h.Run({"exec"}), "*1\r\n$5\r\nother\r\n");
}

}  // namespace
}  // namespace dkv::server

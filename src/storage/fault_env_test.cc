// Tests for FaultInjectionEnv: the lying disk that durability tests of the
// WAL, the DB and the simulator stand on. If it forgets too little, those
// tests prove nothing; if it forgets too much, they fail for no reason.
#include "storage/fault_env.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

namespace dkv::storage {
namespace {

std::string Read(FaultInjectionEnv* env, const std::string& path) {
  auto r = ReadFileToString(env, path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::string();
}

// Creates dir and a file in it, makes the entry durable, writes `synced`
// (synced) then `unsynced` (not synced). Returns the still-open file.
std::unique_ptr<WritableFile> Prepare(FaultInjectionEnv* env, const std::string& path,
                                      std::string_view synced, std::string_view unsynced) {
  EXPECT_TRUE(env->CreateDir("/db").ok());
  auto f = env->NewWritableFile(path);
  EXPECT_TRUE(f.ok());
  EXPECT_TRUE(env->SyncDir("/db").ok());
  EXPECT_TRUE((*f)->Append(synced).ok());
  EXPECT_TRUE((*f)->Sync().ok());
  EXPECT_TRUE((*f)->Append(unsynced).ok());
  return std::move(*f);
}

TEST(FaultEnvTest, WrittenBytesAreReadableBeforeAnySync) {
  FaultInjectionEnv env;
  auto f = env.NewWritableFile("/a");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("hello ").ok());
  ASSERT_TRUE((*f)->Append("world").ok());
  EXPECT_EQ(Read(&env, "/a"), "hello world");
  EXPECT_EQ(*env.GetFileSize("/a"), 11u);
  auto ra = env.NewRandomAccessFile("/a");
  ASSERT_TRUE(ra.ok());
  char scratch[16];
  std::string_view result;
  ASSERT_TRUE((*ra)->Read(6, 16, &result, scratch).ok());
  EXPECT_EQ(result, "world");
  ASSERT_TRUE((*ra)->Read(100, 4, &result, scratch).ok());
  EXPECT_TRUE(result.empty());
}

TEST(FaultEnvTest, SequentialFileSkips) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "0123456789", "/a", false).ok());
  auto f = env.NewSequentialFile("/a");
  ASSERT_TRUE(f.ok());
  char scratch[4];
  std::string_view r;
  ASSERT_TRUE((*f)->Skip(3).ok());
  ASSERT_TRUE((*f)->Read(4, &r, scratch).ok());
  EXPECT_EQ(r, "3456");
}

TEST(FaultEnvTest, SyncedDataSurvivesCrashAndUnsyncedDataIsLost) {
  FaultInjectionEnv env;
  auto f = Prepare(&env, "/db/x", "durable", "-lost");
  EXPECT_EQ(Read(&env, "/db/x"), "durable-lost");
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "durable");
}

TEST(FaultEnvTest, FileNeverSyncedLosesEverything) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  auto f = env.NewWritableFile("/db/x");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  ASSERT_TRUE((*f)->Append("abc").ok());
  ASSERT_TRUE((*f)->Flush().ok());  // flush is not sync
  env.Crash();
  ASSERT_TRUE(env.FileExists("/db/x"));
  EXPECT_EQ(Read(&env, "/db/x"), "");
}

TEST(FaultEnvTest, CreatedFileWithoutSyncDirVanishesOnCrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  ASSERT_TRUE(WriteStringToFile(&env, "data", "/db/x", /*sync=*/true).ok());
  env.Crash();
  EXPECT_FALSE(env.FileExists("/db/x"));
}

TEST(FaultEnvTest, CreatedFileWithSyncDirSurvivesCrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  ASSERT_TRUE(WriteStringToFile(&env, "data", "/db/x", /*sync=*/true).ok());
  ASSERT_TRUE(env.SyncDir("/db/").ok());
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "data");
}

TEST(FaultEnvTest, SyncDirOfAnotherDirectoryDoesNotHelp) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "data", "/db/x", /*sync=*/true).ok());
  ASSERT_TRUE(env.SyncDir("/other").ok());
  env.Crash();
  EXPECT_FALSE(env.FileExists("/db/x"));
}

TEST(FaultEnvTest, KeepUnsyncedDirEntriesKeepsNewFiles) {
  FaultInjectionEnv env;
  env.SetKeepUnsyncedDirEntries(true);
  ASSERT_TRUE(WriteStringToFile(&env, "data", "/db/x", /*sync=*/true).ok());
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "data");
}

TEST(FaultEnvTest, RenameWithoutSyncDirIsUndoneByCrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "old", "/db/CURRENT", true).ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  ASSERT_TRUE(WriteStringToFile(&env, "new", "/db/tmp", true).ok());
  ASSERT_TRUE(env.RenameFile("/db/tmp", "/db/CURRENT").ok());
  EXPECT_EQ(Read(&env, "/db/CURRENT"), "new");
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/CURRENT"), "old");
  EXPECT_FALSE(env.FileExists("/db/tmp"));
}

TEST(FaultEnvTest, RenameWithSyncDirSurvivesCrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "old", "/db/CURRENT", true).ok());
  ASSERT_TRUE(WriteStringToFile(&env, "new", "/db/tmp", true).ok());
  ASSERT_TRUE(env.RenameFile("/db/tmp", "/db/CURRENT").ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/CURRENT"), "new");
  EXPECT_FALSE(env.FileExists("/db/tmp"));
}

TEST(FaultEnvTest, RemoveWithoutSyncDirIsUndoneByCrash) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "data", "/db/x", true).ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  ASSERT_TRUE(env.RemoveFile("/db/x").ok());
  EXPECT_FALSE(env.FileExists("/db/x"));
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "data");
}

TEST(FaultEnvTest, TornWriteKeepsARandomPrefixOfTheLastWrite) {
  const std::string unsynced = "0123456789abcdefghij";
  bool saw_partial = false;
  for (uint64_t seed = 1; seed <= 50; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    FaultInjectionEnv env;
    env.SetTornWrites(true, seed);
    auto f = Prepare(&env, "/db/x", "durable|", unsynced);
    env.Crash();
    std::string got = Read(&env, "/db/x");
    ASSERT_GE(got.size(), 8u);
    ASSERT_LE(got.size(), 8 + unsynced.size());
    EXPECT_EQ(got, ("durable|" + unsynced).substr(0, got.size()));
    if (got.size() > 8 && got.size() < 8 + unsynced.size()) saw_partial = true;
  }
  EXPECT_TRUE(saw_partial);
}

TEST(FaultEnvTest, TornWritesAreDeterministicForASeed) {
  std::string first;
  for (int run = 0; run < 2; run++) {
    FaultInjectionEnv env;
    env.SetTornWrites(true, 77);
    auto f = Prepare(&env, "/db/x", "a", std::string(1000, 'b'));
    env.Crash();
    std::string got = Read(&env, "/db/x");
    if (run == 0) first = got;
    EXPECT_EQ(got, first);
  }
}

TEST(FaultEnvTest, OverwriteIsUndoneByCrashWhenUnsynced) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, std::string(10, '\0'), "/db/log", true).ok());
  ASSERT_TRUE(env.SyncDir("/db").ok());
  auto f = env.ReopenForOverwrite("/db/log");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("ab").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Append("cd").ok());
  EXPECT_EQ(Read(&env, "/db/log"), std::string("abcd\0\0\0\0\0\0", 10));
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/log"), std::string("ab\0\0\0\0\0\0\0\0", 10));
}

TEST(FaultEnvTest, ReopenForOverwriteKeepsTheTailAndNeedsAnExistingFile) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "0123456789", "/a", false).ok());
  auto f = env.ReopenForOverwrite("/a");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("xy").ok());
  EXPECT_EQ(Read(&env, "/a"), "xy23456789");
  EXPECT_TRUE(env.ReopenForOverwrite("/missing").status().IsNotFound());
}

TEST(FaultEnvTest, AppendableFileAppends) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "abc", "/a", false).ok());
  auto f = env.NewAppendableFile("/a");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("def").ok());
  EXPECT_EQ(Read(&env, "/a"), "abcdef");
}

TEST(FaultEnvTest, HandlesOpenedBeforeACrashAreDead) {
  FaultInjectionEnv env;
  auto f = Prepare(&env, "/db/x", "kept", "");
  env.Crash();
  EXPECT_TRUE(f->Append("ghost").IsIOError());
  EXPECT_TRUE(f->Sync().IsIOError());
  EXPECT_EQ(Read(&env, "/db/x"), "kept");
}

TEST(FaultEnvTest, SpaceLimitGivesNoSpaceNamingTheFile) {
  FaultInjectionEnv env;
  env.SetSpaceLimit(100);
  auto f = env.NewWritableFile("/db/000007.log");
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append(std::string(60, 'a')).ok());
  Status s = (*f)->Append(std::string(60, 'b'));
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.ToString().find("/db/000007.log"), std::string::npos) << s.ToString();
  EXPECT_EQ(env.BytesStored(), 60u);
  // Freeing space lets writes go on; reads always work.
  ASSERT_TRUE(WriteStringToFile(&env, std::string(30, 'c'), "/db/other", false).ok());
  EXPECT_TRUE((*f)->Append(std::string(20, 'b')).IsNoSpace());
  ASSERT_TRUE(env.RemoveFile("/db/other").ok());
  EXPECT_TRUE((*f)->Append(std::string(20, 'b')).ok());
  EXPECT_EQ(Read(&env, "/db/000007.log").size(), 80u);
}

TEST(FaultEnvTest, BytesStoredCountsHardLinksOnce) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, std::string(50, 'a'), "/a", false).ok());
  ASSERT_TRUE(env.LinkFile("/a", "/b").ok());
  EXPECT_EQ(env.BytesStored(), 50u);
  ASSERT_TRUE(env.RemoveFile("/a").ok());
  EXPECT_EQ(env.BytesStored(), 50u);
  EXPECT_EQ(Read(&env, "/b").size(), 50u);
  ASSERT_TRUE(env.RemoveFile("/b").ok());
  EXPECT_EQ(env.BytesStored(), 0u);
}

TEST(FaultEnvTest, WriteErrorsFailWritesAndSyncsButNotReads) {
  FaultInjectionEnv env;
  auto f = Prepare(&env, "/db/x", "ok", "");
  env.SetWriteErrors(true);
  EXPECT_TRUE(f->Append("x").IsIOError());
  EXPECT_TRUE(f->Sync().IsIOError());
  EXPECT_TRUE(env.SyncDir("/db").IsIOError());
  EXPECT_EQ(Read(&env, "/db/x"), "ok");
  env.SetWriteErrors(false);
  EXPECT_TRUE(f->Append("x").ok());
}

TEST(FaultEnvTest, FlipBitCorruptsOneBitDurably) {
  FaultInjectionEnv env;
  auto f = Prepare(&env, "/db/x", "AAAA", "");
  ASSERT_TRUE(env.FlipBit("/db/x", 2, 0).ok());
  EXPECT_EQ(Read(&env, "/db/x"), "AA@A");
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "AA@A");
  EXPECT_TRUE(env.FlipBit("/db/none", 0, 0).IsNotFound());
  EXPECT_TRUE(env.FlipBit("/db/x", 4, 0).IsInvalidArgument());
  EXPECT_TRUE(env.FlipBit("/db/x", 0, 8).IsInvalidArgument());
}

TEST(FaultEnvTest, TruncateFileCutsWrittenAndDurableContents) {
  FaultInjectionEnv env;
  auto f = Prepare(&env, "/db/x", "abcdef", "gh");
  ASSERT_TRUE(env.TruncateFile("/db/x", 3).ok());
  EXPECT_EQ(Read(&env, "/db/x"), "abc");
  env.Crash();
  EXPECT_EQ(Read(&env, "/db/x"), "abc");
}

TEST(FaultEnvTest, LockingTwiceIsBusyUntilReleased) {
  FaultInjectionEnv env;
  auto lock = env.LockFile("/db/LOCK");
  ASSERT_TRUE(lock.ok());
  auto again = env.LockFile("/db/LOCK");
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsBusy()) << again.status().ToString();
  lock->reset();
  EXPECT_TRUE(env.LockFile("/db/LOCK").ok());
}

TEST(FaultEnvTest, CrashReleasesLocks) {
  FaultInjectionEnv env;
  auto lock = env.LockFile("/db/LOCK");
  ASSERT_TRUE(lock.ok());
  env.Crash();
  auto after = env.LockFile("/db/LOCK");
  ASSERT_TRUE(after.ok());
  lock->reset();  // the dead process's lock going away must not free the new one
  EXPECT_TRUE(env.LockFile("/db/LOCK").status().IsBusy());
}

TEST(FaultEnvTest, DirectoriesListDirectChildren) {
  FaultInjectionEnv env;
  ASSERT_TRUE(env.CreateDir("/db").ok());
  ASSERT_TRUE(env.CreateDir("/db/sub").ok());
  ASSERT_TRUE(WriteStringToFile(&env, "", "/db/a", false).ok());
  ASSERT_TRUE(WriteStringToFile(&env, "", "/db/sub/b", false).ok());
  ASSERT_TRUE(WriteStringToFile(&env, "", "/dbx", false).ok());
  auto children = env.GetChildren("/db");
  ASSERT_TRUE(children.ok());
  EXPECT_EQ(*children, (std::vector<std::string>{"a", "sub"}));
  EXPECT_TRUE(env.GetChildren("/nope").status().IsNotFound());
  EXPECT_FALSE(env.RemoveDir("/db/sub").ok());  // not empty
  ASSERT_TRUE(env.RemoveFile("/db/sub/b").ok());
  EXPECT_TRUE(env.RemoveDir("/db/sub").ok());
  EXPECT_TRUE(env.RemoveFile("/db/sub/b").IsNotFound());
  EXPECT_TRUE(env.GetFileSize("/db/none").status().IsNotFound());
  EXPECT_TRUE(env.NewSequentialFile("/db/none").status().IsNotFound());
}

TEST(FaultEnvTest, LinkFileSharesContentAndRefusesAnExistingTarget) {
  FaultInjectionEnv env;
  ASSERT_TRUE(WriteStringToFile(&env, "abc", "/a", false).ok());
  ASSERT_TRUE(env.LinkFile("/a", "/b").ok());
  EXPECT_EQ(Read(&env, "/b"), "abc");
  EXPECT_FALSE(env.LinkFile("/a", "/b").ok());
  EXPECT_TRUE(env.LinkFile("/none", "/c").IsNotFound());
}

TEST(FaultEnvTest, VirtualClockOnlyMovesWhenTold) {
  FaultInjectionEnv env(1000);
  EXPECT_EQ(env.NowMicros(), 1000);
  env.SleepForMicros(500);
  EXPECT_EQ(env.NowMicros(), 1500);
  env.AdvanceMicros(10);
  EXPECT_EQ(env.NowMicros(), 1510);
}

TEST(FaultEnvTest, ConcurrentWritersToDifferentFilesAreSafe) {
  FaultInjectionEnv env;
  constexpr int kThreads = 4;
  constexpr int kAppends = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; t++) {
    threads.emplace_back([&env, t] {
      auto f = env.NewWritableFile("/f" + std::to_string(t));
      ASSERT_TRUE(f.ok());
      for (int i = 0; i < kAppends; i++) {
        ASSERT_TRUE((*f)->Append("x").ok());
        if (i % 100 == 0) {
          ASSERT_TRUE((*f)->Sync().ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(env.BytesStored(), uint64_t{kThreads} * kAppends);
}

}  // namespace
}  // namespace dkv::storage

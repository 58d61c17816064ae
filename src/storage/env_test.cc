// Tests for Env::Posix() in a fresh temporary directory (removed afterwards):
// the real file system calls behind every Env method, the write buffer, the
// lock (twice in this process and from another process) and overwrite mode.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "common/random.h"
#include "storage/env.h"

namespace dkv::storage {
namespace {

class PosixEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dkv_env_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  std::string Read(const std::string& name) {
    auto r = ReadFileToString(env_, Path(name));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::string();
  }

  Env* const env_ = Env::Posix();
  std::string dir_;
};

TEST_F(PosixEnvTest, WrittenFileReadsBackSequentiallyAndByOffset) {
  // Appends of mixed sizes exercise the buffer's fast path, its flush and the
  // direct write of appends larger than the buffer.
  Rng rng(5);
  std::string expected;
  auto f = env_->NewWritableFile(Path("a"));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (int i = 0; i < 200; i++) {
    size_t n = rng.OneIn(20) ? 100000 + rng.Uniform(100000) : rng.Uniform(3000);
    std::string chunk(n, static_cast<char>('a' + i % 26));
    ASSERT_TRUE((*f)->Append(chunk).ok());
    expected += chunk;
  }
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(*env_->GetFileSize(Path("a")), expected.size());
  EXPECT_TRUE(Read("a") == expected);

  auto ra = env_->NewRandomAccessFile(Path("a"));
  ASSERT_TRUE(ra.ok());
  std::string scratch(1000, '\0');
  std::string_view result;
  ASSERT_TRUE((*ra)->Read(12345, 1000, &result, scratch.data()).ok());
  EXPECT_EQ(result, std::string_view(expected).substr(12345, 1000));
  ASSERT_TRUE((*ra)->Read(expected.size() - 10, 1000, &result, scratch.data()).ok());
  EXPECT_EQ(result.size(), 10u);  // short read at end of file
}

TEST_F(PosixEnvTest, UnflushedBytesAreInvisibleUntilFlush) {
  auto f = env_->NewWritableFile(Path("a"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("buffered").ok());
  EXPECT_EQ(*env_->GetFileSize(Path("a")), 0u);  // still in the user-space buffer
  ASSERT_TRUE((*f)->Flush().ok());
  EXPECT_EQ(Read("a"), "buffered");
}

TEST_F(PosixEnvTest, DestructorFlushesAndCloses) {
  {
    auto f = env_->NewWritableFile(Path("a"));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append("tail").ok());
  }
  EXPECT_EQ(Read("a"), "tail");
}

TEST_F(PosixEnvTest, SequentialFileSkipsAndReportsEndOfFile) {
  ASSERT_TRUE(WriteStringToFile(env_, "0123456789", Path("a"), true).ok());
  auto f = env_->NewSequentialFile(Path("a"));
  ASSERT_TRUE(f.ok());
  char scratch[8];
  std::string_view r;
  ASSERT_TRUE((*f)->Skip(4).ok());
  ASSERT_TRUE((*f)->Read(8, &r, scratch).ok());
  EXPECT_EQ(r, "456789");
  ASSERT_TRUE((*f)->Read(8, &r, scratch).ok());
  EXPECT_TRUE(r.empty());
}

TEST_F(PosixEnvTest, AppendableFileAppends) {
  ASSERT_TRUE(WriteStringToFile(env_, "abc", Path("a"), false).ok());
  auto f = env_->NewAppendableFile(Path("a"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("def").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read("a"), "abcdef");
}

TEST_F(PosixEnvTest, ReopenForOverwriteWritesFromZeroAndKeepsTheTail) {
  ASSERT_TRUE(WriteStringToFile(env_, std::string(100, 'z'), Path("log"), true).ok());
  auto f = env_->ReopenForOverwrite(Path("log"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("new").ok());
  ASSERT_TRUE((*f)->Sync().ok());
  EXPECT_EQ(Read("log"), "new" + std::string(97, 'z'));
  EXPECT_TRUE(env_->ReopenForOverwrite(Path("missing")).status().IsNotFound());
  EXPECT_FALSE(env_->FileExists(Path("missing")));
}

TEST_F(PosixEnvTest, RenameReplacesTheTarget) {
  ASSERT_TRUE(WriteStringToFile(env_, "old", Path("CURRENT"), true).ok());
  ASSERT_TRUE(WriteStringToFile(env_, "new", Path("tmp"), true).ok());
  ASSERT_TRUE(env_->RenameFile(Path("tmp"), Path("CURRENT")).ok());
  ASSERT_TRUE(env_->SyncDir(dir_).ok());
  EXPECT_EQ(Read("CURRENT"), "new");
  EXPECT_FALSE(env_->FileExists(Path("tmp")));
  EXPECT_TRUE(env_->RenameFile(Path("tmp"), Path("x")).IsNotFound());
}

TEST_F(PosixEnvTest, LinkFileMakesASecondNameForTheSameBytes) {
  ASSERT_TRUE(WriteStringToFile(env_, "table", Path("000005.sst"), true).ok());
  ASSERT_TRUE(env_->CreateDir(Path("checkpoint")).ok());
  ASSERT_TRUE(env_->LinkFile(Path("000005.sst"), Path("checkpoint/000005.sst")).ok());
  ASSERT_TRUE(env_->RemoveFile(Path("000005.sst")).ok());
  EXPECT_EQ(Read("checkpoint/000005.sst"), "table");
  EXPECT_FALSE(env_->LinkFile(Path("none"), Path("x")).ok());
}

TEST_F(PosixEnvTest, DirectoriesAndChildren) {
  ASSERT_TRUE(env_->CreateDir(Path("d")).ok());
  ASSERT_TRUE(env_->CreateDir(Path("d")).ok());  // OK if it exists
  ASSERT_TRUE(WriteStringToFile(env_, "", Path("d/x"), false).ok());
  ASSERT_TRUE(WriteStringToFile(env_, "", Path("d/y"), false).ok());
  auto children = env_->GetChildren(Path("d"));
  ASSERT_TRUE(children.ok());
  std::sort(children->begin(), children->end());
  EXPECT_EQ(*children, (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(env_->RemoveDir(Path("d")).ok());  // not empty
  ASSERT_TRUE(env_->RemoveFile(Path("d/x")).ok());
  ASSERT_TRUE(env_->RemoveFile(Path("d/y")).ok());
  EXPECT_TRUE(env_->RemoveDir(Path("d")).ok());
  EXPECT_TRUE(env_->GetChildren(Path("d")).status().IsNotFound());
  EXPECT_TRUE(env_->RemoveFile(Path("d/x")).IsNotFound());
  ASSERT_TRUE(WriteStringToFile(env_, "", Path("f"), false).ok());
  EXPECT_FALSE(env_->CreateDir(Path("f")).ok());  // exists, not a directory
}

TEST_F(PosixEnvTest, MissingFileErrorsNameThePath) {
  auto r = env_->NewSequentialFile(Path("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_NE(r.status().ToString().find(Path("nope")), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(env_->GetFileSize(Path("nope")).status().IsNotFound());
  EXPECT_TRUE(env_->NewRandomAccessFile(Path("nope")).status().IsNotFound());
  EXPECT_TRUE(ReadFileToString(env_, Path("nope")).status().IsNotFound());
}

TEST_F(PosixEnvTest, LockingTwiceInOneProcessIsBusy) {
  auto lock = env_->LockFile(Path("LOCK"));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto again = env_->LockFile(Path("LOCK"));
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(again.status().IsBusy()) << again.status().ToString();
  EXPECT_NE(again.status().ToString().find("LOCK"), std::string::npos);
  lock->reset();
  auto after = env_->LockFile(Path("LOCK"));
  EXPECT_TRUE(after.ok()) << after.status().ToString();
}

TEST_F(PosixEnvTest, LockHeldByThisProcessIsBusyForAnotherProcess) {
  auto lock = env_->LockFile(Path("LOCK"));
  ASSERT_TRUE(lock.ok());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: fcntl locks are per process, so this is the real cross-process check.
    auto r = Env::Posix()->LockFile(Path("LOCK"));
    ::_exit(!r.ok() && r.status().IsBusy() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(PosixEnvTest, WriteStringToFileAndReadFileToStringRoundTrip) {
  std::string big(200000, 'q');
  ASSERT_TRUE(WriteStringToFile(env_, big, Path("big"), true).ok());
  EXPECT_TRUE(Read("big") == big);
  ASSERT_TRUE(WriteStringToFile(env_, "", Path("empty"), false).ok());
  EXPECT_EQ(Read("empty"), "");
}

TEST_F(PosixEnvTest, EnospcBecomesNoSpaceNamingTheFile) {
  // /dev/full fails every write with ENOSPC.
  if (!env_->FileExists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  auto f = env_->ReopenForOverwrite("/dev/full");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  ASSERT_TRUE((*f)->Append("x").ok());  // buffered
  Status s = (*f)->Sync();
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.ToString().find("/dev/full"), std::string::npos) << s.ToString();
}

TEST_F(PosixEnvTest, ClockMovesForward) {
  int64_t a = env_->NowMicros();
  env_->SleepForMicros(1000);
  EXPECT_GE(env_->NowMicros(), a);  // no timing assertion beyond "not backwards"
}

}  // namespace
}  // namespace dkv::storage

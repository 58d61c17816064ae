// Tests for Env::Posix() in a fresh temporary directory (removed afterwards):
// the real file system calls behind every Env method, the write buffer, the
// lock (twice in this process and from another process) and overwrite mode.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

TEST_F(PosixEnvTest, MappedRandomAccessReadsAreInPlaceAndShortAtEndOfFile) {
  std::string expected(10000, '\0');
  for (size_t i = 0; i < expected.size(); i++) expected[i] = static_cast<char>(i * 31);
  ASSERT_TRUE(WriteStringToFile(env_, expected, Path("a"), false).ok());
  auto ra = env_->NewRandomAccessFile(Path("a"));
  ASSERT_TRUE(ra.ok()) << ra.status().ToString();
  ASSERT_TRUE((*ra)->StableResults());
  std::string_view result;
  // Stable results need no scratch.
  ASSERT_TRUE((*ra)->Read(1234, 5000, &result, nullptr).ok());
  EXPECT_EQ(result, std::string_view(expected).substr(1234, 5000));
  std::string_view again;
  ASSERT_TRUE((*ra)->Read(1234, 5000, &again, nullptr).ok());
  EXPECT_EQ(again.data(), result.data());  // the same bytes, not a copy
  ASSERT_TRUE((*ra)->Read(expected.size() - 10, 1000, &result, nullptr).ok());
  EXPECT_EQ(result, std::string_view(expected).substr(expected.size() - 10));
  ASSERT_TRUE((*ra)->Read(expected.size() + 5, 10, &result, nullptr).ok());
  EXPECT_TRUE(result.empty());

  // An empty file cannot be mapped; it still opens and reads as empty.
  ASSERT_TRUE(WriteStringToFile(env_, "", Path("empty"), false).ok());
  auto empty = env_->NewRandomAccessFile(Path("empty"));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  char scratch[8];
  ASSERT_TRUE((*empty)->Read(0, sizeof(scratch), &result, scratch).ok());
  EXPECT_TRUE(result.empty());
}

TEST_F(PosixEnvTest, RandomAccessFilesBeyondTheMappingLimitUsePread) {
  if (sizeof(void*) < 8) GTEST_SKIP() << "nothing is mapped on 32-bit systems";
  const std::string contents = "0123456789abcdefghij";
  ASSERT_TRUE(WriteStringToFile(env_, contents, Path("t"), false).ok());
  // Open the same file until the mapping slots run out (1000 in env_posix.cc;
  // the bound here only keeps a broken limit from looping for ever).
  constexpr int kMaxOpens = 100000;
  std::vector<std::unique_ptr<RandomAccessFile>> mapped;
  std::unique_ptr<RandomAccessFile> unmapped;
  for (int i = 0; i < kMaxOpens && unmapped == nullptr; i++) {
    auto f = env_->NewRandomAccessFile(Path("t"));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if ((*f)->StableResults()) {
      mapped.push_back(std::move(f).value());
    } else {
      unmapped = std::move(f).value();
    }
  }
  ASSERT_NE(unmapped, nullptr) << "no mapping limit after " << kMaxOpens << " opens";
  EXPECT_GT(mapped.size(), 0u);
  // Both kinds read the same bytes; the pread one into scratch.
  char scratch[32];
  std::string_view result;
  ASSERT_TRUE(unmapped->Read(5, 10, &result, scratch).ok());
  EXPECT_EQ(result, "56789abcde");
  EXPECT_EQ(result.data(), scratch);
  ASSERT_TRUE(mapped.back()->Read(5, 10, &result, scratch).ok());
  EXPECT_EQ(result, "56789abcde");
  // Closing a mapped file frees its slot for the next open.
  mapped.pop_back();
  auto f = env_->NewRandomAccessFile(Path("t"));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)->StableResults());
  auto g = env_->NewRandomAccessFile(Path("t"));
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE((*g)->StableResults());
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

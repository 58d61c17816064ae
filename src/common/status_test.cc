#include "common/status.h"

#include <cerrno>

#include <gtest/gtest.h>

namespace dkv {
namespace {

TEST(StatusTest, CorruptionNamesWhereAndWhat) {
  Status s = Status::Corruption("wal 000042.log", "checksum mismatch at 98304");
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.ToString(), "Corruption: wal 000042.log: checksum mismatch at 98304");
}

TEST(StatusTest, FullDiskBecomesNoSpace) {
  EXPECT_TRUE(Status::FromErrno("append 000007.log", ENOSPC).IsNoSpace());
  EXPECT_TRUE(Status::FromErrno("open x", ENOENT).IsNotFound());
  EXPECT_TRUE(Status::FromErrno("read x", EIO).IsIOError());
}

TEST(StatusTest, WithContextPrefixes) {
  Status s = Status::IOError("write", "disk").WithContext("db /x");
  EXPECT_EQ(s.ToString(), "IOError: db /x: write: disk");
  EXPECT_TRUE(Status::OK().WithContext("x").ok());
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("half", "odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  DKV_ASSIGN_OR_RETURN(int h, Half(x));
  DKV_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::OK();
}

TEST(StatusTest, ResultCarriesValueOrStatus) {
  int q = 0;
  EXPECT_TRUE(Quarter(8, &q).ok());
  EXPECT_EQ(q, 2);
  EXPECT_TRUE(Quarter(6, &q).IsInvalidArgument());
}

}  // namespace
}  // namespace dkv

#include "storage/version_edit.h"

#include <gtest/gtest.h>

#include "common/random.h"
#include "storage/filename.h"

namespace dkv::storage {
namespace {

std::string IKey(std::string_view user, SequenceNumber seq, ValueType t = ValueType::kValue) {
  std::string r;
  AppendInternalKey(&r, user, seq, t);
  return r;
}

VersionEdit SampleEdit() {
  VersionEdit edit;
  edit.SetComparatorName("dkv.Bytewise");
  edit.SetLogNumber(42);
  edit.SetNextFile(99);
  edit.SetLastSequence(123456789);
  edit.SetCompactPointer(1, IKey("m", 7));
  edit.RemoveFile(2, 17);
  edit.AddFile(0, 55, 4096, IKey("apple", 10), IKey("zebra", 3, ValueType::kDeletion));
  edit.AddFile(3, 56, 1 << 20, IKey("a", 1), IKey("b", 2));
  return edit;
}

TEST(VersionEditTest, EncodeDecodeRoundTrips) {
  VersionEdit edit = SampleEdit();
  std::string encoded;
  edit.EncodeTo(&encoded);
  VersionEdit parsed;
  ASSERT_TRUE(parsed.DecodeFrom(encoded).ok());
  std::string reencoded;
  parsed.EncodeTo(&reencoded);
  EXPECT_EQ(encoded, reencoded);
  EXPECT_EQ(*parsed.log_number(), 42u);
  EXPECT_EQ(*parsed.next_file_number(), 99u);
  EXPECT_EQ(*parsed.last_sequence(), 123456789u);
  ASSERT_EQ(parsed.new_files().size(), 2u);
  EXPECT_EQ(parsed.new_files()[1].first, 3);
  EXPECT_EQ(parsed.new_files()[1].second.file_size, 1u << 20);
  EXPECT_EQ(parsed.deleted_files().count({2, 17}), 1u);
}

TEST(VersionEditTest, EmptyEditDecodesToNothing) {
  VersionEdit parsed;
  ASSERT_TRUE(parsed.DecodeFrom("").ok());
  EXPECT_FALSE(parsed.log_number().has_value());
  EXPECT_TRUE(parsed.new_files().empty());
}

TEST(VersionEditTest, EveryTruncationIsCorruptionOrAPrefixEdit) {
  std::string encoded;
  SampleEdit().EncodeTo(&encoded);
  for (size_t n = 0; n < encoded.size(); n++) {
    VersionEdit parsed;
    Status s = parsed.DecodeFrom(std::string_view(encoded).substr(0, n));
    // A cut between fields is a valid shorter edit; a cut inside one is not.
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(s.message().find("manifest record"), std::string::npos);
    }
  }
}

TEST(VersionEditTest, UnknownTagIsCorruption) {
  std::string bad;
  PutVarint32(&bad, 77);
  VersionEdit parsed;
  Status s = parsed.DecodeFrom(bad);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_NE(s.ToString().find("unknown tag"), std::string::npos);
}

TEST(VersionEditTest, LevelOutOfRangeIsCorruption) {
  std::string bad;
  PutVarint32(&bad, 6);  // deleted file
  PutVarint32(&bad, kNumLevels);
  PutVarint64(&bad, 5);
  VersionEdit parsed;
  EXPECT_TRUE(parsed.DecodeFrom(bad).IsCorruption());
}

TEST(VersionEditTest, RandomBytesNeverCrash) {
  Rng rng(301);
  for (int i = 0; i < 20000; i++) {
    std::string junk(rng.Uniform(40), '\0');
    for (char& c : junk) c = static_cast<char>(rng.Uniform(256));
    VersionEdit parsed;
    Status s = parsed.DecodeFrom(junk);
    EXPECT_TRUE(s.ok() || s.IsCorruption());
  }
}

TEST(FileNameTest, NamesParseBack) {
  uint64_t number;
  FileType type;
  ASSERT_TRUE(ParseFileName("000123.log", &number, &type));
  EXPECT_EQ(number, 123u);
  EXPECT_EQ(type, FileType::kLogFile);
  ASSERT_TRUE(ParseFileName("000124.sst", &number, &type));
  EXPECT_EQ(type, FileType::kTableFile);
  ASSERT_TRUE(ParseFileName("MANIFEST-000005", &number, &type));
  EXPECT_EQ(number, 5u);
  EXPECT_EQ(type, FileType::kDescriptorFile);
  ASSERT_TRUE(ParseFileName("CURRENT", &number, &type));
  EXPECT_EQ(type, FileType::kCurrentFile);
  ASSERT_TRUE(ParseFileName("LOCK", &number, &type));
  EXPECT_EQ(type, FileType::kLockFile);
  EXPECT_EQ(LogFileName("/db", 7), "/db/000007.log");
  EXPECT_EQ(DescriptorFileName("/db", 5), "/db/MANIFEST-000005");
}

TEST(FileNameTest, ForeignNamesAreRejected) {
  uint64_t number;
  FileType type;
  for (const char* name : {"", "foo", "123", "123.txt", "MANIFEST-", "MANIFEST-x", ".log",
                           "99999999999999999999999.log", "12a.sst"}) {
    EXPECT_FALSE(ParseFileName(name, &number, &type)) << name;
  }
}

}  // namespace
}  // namespace dkv::storage

// Tests for WalWriter and WalReader (docs/formats/wal.md): round trips,
// fragmentation at block boundaries, torn tails, corruption in the middle,
// pre-zeroed and recycled files, and crashes on the FaultInjectionEnv.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/coding.h"
#include "common/hash.h"
#include "common/random.h"
#include "storage/fault_env.h"
#include "storage/wal_format.h"
#include "storage/wal_reader.h"
#include "storage/wal_writer.h"

namespace dkv::storage {
namespace {

using wal::kBlockSize;
using wal::kHeaderSize;

// A WritableFile over a std::string that writes from `pos`, overwriting
// what is there and extending past the end (a recycled or pre-zeroed file).
class StringFile final : public WritableFile {
 public:
  explicit StringFile(std::string* contents, size_t pos = 0) : contents_(contents), pos_(pos) {}
  Status Append(std::string_view data) override {
    if (fail_) return Status::IOError("string file", "injected");
    if (contents_->size() < pos_ + data.size()) contents_->resize(pos_ + data.size());
    std::memcpy(contents_->data() + pos_, data.data(), data.size());
    pos_ += data.size();
    appends_++;
    return Status::OK();
  }
  Status Flush() override { return Status::OK(); }
  Status Sync() override { return Status::OK(); }
  Status Close() override { return Status::OK(); }
  void set_fail(bool fail) { fail_ = fail; }
  int appends() const { return appends_; }

 private:
  std::string* const contents_;
  size_t pos_;
  bool fail_ = false;
  int appends_ = 0;
};

class StringSource final : public SequentialFile {
 public:
  explicit StringSource(std::string_view contents) : contents_(contents) {}
  Status Read(size_t n, std::string_view* result, char* scratch) override {
    size_t got = std::min(n, contents_.size());
    std::memcpy(scratch, contents_.data(), got);
    *result = std::string_view(scratch, got);
    contents_.remove_prefix(got);
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    contents_.remove_prefix(std::min<uint64_t>(n, contents_.size()));
    return Status::OK();
  }

 private:
  std::string_view contents_;
};

class RecordingReporter final : public WalReader::Reporter {
 public:
  void Corruption(size_t bytes, const Status& status) override {
    dropped_bytes += bytes;
    messages.push_back(status.ToString());
  }
  size_t dropped_bytes = 0;
  std::vector<std::string> messages;
};

// A record whose bytes depend on its index, so a mix-up shows. Indexes from
// 1000 up (an older log in a recycled file) use other letters, so that the
// old log's bytes never happen to complete a torn new record.
std::string MakeRecord(size_t index, size_t size) {
  std::string s(size, '\0');
  const char base = index >= 1000 ? 'A' : 'a';
  for (size_t i = 0; i < size; i++) s[i] = static_cast<char>(base + (index * 7 + i) % 26);
  return s;
}

// Compares record lists, describing the first difference briefly (records
// can be 100 KB long; gtest would print them whole).
::testing::AssertionResult SameRecords(const std::vector<std::string>& got,
                                       const std::vector<std::string>& want) {
  for (size_t i = 0; i < std::min(got.size(), want.size()); i++) {
    if (got[i] != want[i]) {
      return ::testing::AssertionFailure() << "record " << i << " differs (sizes " << got[i].size()
                                           << " vs " << want[i].size() << ")";
    }
  }
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure()
           << "read " << got.size() << " records, expected " << want.size();
  }
  return ::testing::AssertionSuccess();
}

struct ReadResult {
  std::vector<std::string> records;
  std::vector<uint64_t> offsets;
  RecordingReporter reporter;
};

void ReadAll(std::string_view contents, uint64_t log_number, ReadResult* out,
             bool verify_checksums = true) {
  StringSource source(contents);
  WalReader reader(&source, "000042.log", log_number, &out->reporter, verify_checksums);
  std::string scratch;
  std::string_view record;
  while (reader.ReadRecord(&record, &scratch)) {
    out->records.emplace_back(record);
    out->offsets.push_back(reader.LastRecordOffset());
  }
  // The end of the log is sticky.
  EXPECT_FALSE(reader.ReadRecord(&record, &scratch));
}

// Writes records, returning each record's start and end offset.
struct Written {
  std::vector<std::string> records;
  std::vector<uint64_t> starts;
  std::vector<uint64_t> ends;
};

Written WriteAll(std::string* contents, uint64_t log_number, const std::vector<size_t>& sizes,
                 size_t index_base = 0) {
  Written w;
  StringFile file(contents);
  WalWriter writer(&file, log_number);
  for (size_t i = 0; i < sizes.size(); i++) {
    w.records.push_back(MakeRecord(index_base + i, sizes[i]));
    // A record starts at the next header, after any block padding.
    uint64_t start = writer.size();
    if (kBlockSize - start % kBlockSize < kHeaderSize) start += kBlockSize - start % kBlockSize;
    w.starts.push_back(start);
    EXPECT_TRUE(writer.AddRecord(w.records.back()).ok());
    w.ends.push_back(writer.size());
  }
  EXPECT_TRUE(writer.Sync().ok());
  EXPECT_LE(writer.size(), contents->size());  // less in a recycled file
  return w;
}

uint8_t FragmentType(const std::string& contents, uint64_t offset) {
  return static_cast<uint8_t>(contents[offset + wal::kTypeOffset]);
}

TEST(WalTest, EmptyFileHasNoRecords) {
  ReadResult r;
  ReadAll("", 1, &r);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(r.reporter.messages.empty());
}

TEST(WalTest, EmptyRecordRoundTrips) {
  std::string contents;
  WriteAll(&contents, 1, {0, 5, 0});
  EXPECT_EQ(contents.size(), 3 * kHeaderSize + 5);
  ReadResult r;
  ReadAll(contents, 1, &r);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[0], "");
  EXPECT_EQ(r.records[1], MakeRecord(1, 5));
  EXPECT_EQ(r.records[2], "");
}

// The worked example of docs/formats/wal.md, byte for byte: if this test has
// to change, the format changed and old logs will no longer read.
TEST(WalTest, HeaderBytesMatchTheFormatDoc) {
  std::string contents;
  StringFile file(&contents);
  WalWriter writer(&file, 0x2a);
  ASSERT_TRUE(writer.AddRecord("hello").ok());
  ASSERT_EQ(contents.size(), kHeaderSize + 5);
  // length 5, type FULL, log number 42, payload.
  EXPECT_EQ(contents.substr(4), std::string("\x05\x00\x01\x2a\x00\x00\x00hello", 12));
  const uint32_t crc = Checksum32(std::string_view("\x01\x2a\x00\x00\x00", 5), "hello");
  EXPECT_EQ(DecodeFixed32(contents.data()), crc);
  EXPECT_EQ(crc, 0x021f8afeu) << std::hex << crc;  // pinned in docs/formats/wal.md
  // The doc's second example: a 40000-byte record right after it.
  ASSERT_TRUE(writer.AddRecord(std::string(40000, 'x')).ok());
  EXPECT_EQ(FragmentType(contents, 16), wal::kFirstType);
  EXPECT_EQ(DecodeFixed32(contents.data() + 16 + wal::kLengthOffset) & 0xffff, 32741u);
  EXPECT_EQ(FragmentType(contents, kBlockSize), wal::kLastType);
  EXPECT_EQ(DecodeFixed32(contents.data() + kBlockSize + wal::kLengthOffset) & 0xffff, 7259u);
}

TEST(WalTest, ManyRecordsOfRandomSizesRoundTrip) {
  const uint64_t seed = 20261124;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Rng rng(seed);
  std::vector<size_t> sizes;
  for (int i = 0; i < 500; i++) {
    switch (rng.Uniform(4)) {
      case 0:
        sizes.push_back(rng.Uniform(20));
        break;
      case 1:
        sizes.push_back(rng.Uniform(1000));
        break;
      case 2:
        sizes.push_back(rng.Uniform(3 * kBlockSize));
        break;  // > 32 KiB too
      default:
        sizes.push_back(kBlockSize - kHeaderSize - rng.Uniform(3));
        break;
    }
  }
  std::string contents;
  Written w = WriteAll(&contents, 7, sizes);
  ReadResult r;
  ReadAll(contents, 7, &r);
  EXPECT_TRUE(r.reporter.messages.empty());
  ASSERT_EQ(r.records.size(), w.records.size());
  for (size_t i = 0; i < w.records.size(); i++) {
    ASSERT_EQ(r.records[i], w.records[i]) << "record " << i;
    ASSERT_EQ(r.offsets[i], w.starts[i]) << "record " << i;
  }
}

TEST(WalTest, RecordsAroundBlockBoundariesRoundTrip) {
  // For each gap g, the first record leaves exactly g bytes in block 0, so
  // the second record meets: no room for a header (padding), room for just
  // a header (an empty FIRST fragment), or room for a few bytes.
  for (size_t gap = 0; gap <= kHeaderSize + 2; gap++) {
    SCOPED_TRACE("gap=" + std::to_string(gap));
    std::string contents;
    Written w = WriteAll(&contents, 3, {kBlockSize - kHeaderSize - gap, 100, 50});
    EXPECT_EQ(w.ends[0], kBlockSize - gap);
    if (gap < kHeaderSize) {
      EXPECT_EQ(w.starts[1], kBlockSize);  // padded
      EXPECT_EQ(contents.substr(w.ends[0], gap), std::string(gap, '\0'));
      EXPECT_EQ(FragmentType(contents, w.starts[1]), wal::kFullType);
    } else {
      EXPECT_EQ(w.starts[1], w.ends[0]);
      EXPECT_EQ(FragmentType(contents, w.starts[1]), wal::kFirstType);
      EXPECT_EQ(FragmentType(contents, kBlockSize), wal::kLastType);
    }
    ReadResult r;
    ReadAll(contents, 3, &r);
    EXPECT_TRUE(r.reporter.messages.empty());
    EXPECT_TRUE(SameRecords(r.records, w.records));
  }
}

TEST(WalTest, RecordExactlyFillingABlockIsOneFullFragment) {
  std::string contents;
  Written w = WriteAll(&contents, 1, {kBlockSize - kHeaderSize, 1});
  EXPECT_EQ(FragmentType(contents, 0), wal::kFullType);
  EXPECT_EQ(w.starts[1], kBlockSize);
  ReadResult r;
  ReadAll(contents, 1, &r);
  EXPECT_TRUE(SameRecords(r.records, w.records));
}

TEST(WalTest, LargeRecordIsSplitFirstMiddleLast) {
  std::string contents;
  const size_t size = 3 * kBlockSize;  // needs 4 fragments
  Written w = WriteAll(&contents, 1, {size});
  EXPECT_EQ(FragmentType(contents, 0), wal::kFirstType);
  EXPECT_EQ(FragmentType(contents, kBlockSize), wal::kMiddleType);
  EXPECT_EQ(FragmentType(contents, 2 * kBlockSize), wal::kMiddleType);
  EXPECT_EQ(FragmentType(contents, 3 * kBlockSize), wal::kLastType);
  EXPECT_EQ(contents.size(), size + 4 * kHeaderSize);
  ReadResult r;
  ReadAll(contents, 1, &r);
  ASSERT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.records[0], w.records[0]);
}

TEST(WalTest, AddRecordMakesNoExtraWritesBeyondHeaderAndPayload) {
  // The hot path is two appends into the file's buffer per fragment.
  std::string contents;
  StringFile file(&contents);
  WalWriter writer(&file, 1);
  ASSERT_TRUE(writer.AddRecord("abc").ok());
  EXPECT_EQ(file.appends(), 2);
}

TEST(WalTest, WriterResumesAnExistingLogAtDestLength) {
  std::string contents;
  Written first = WriteAll(&contents, 5, {40000, 10});
  StringFile file(&contents, contents.size());
  WalWriter writer(&file, 5, contents.size());
  ASSERT_TRUE(writer.AddRecord("more").ok());
  ReadResult r;
  ReadAll(contents, 5, &r);
  ASSERT_EQ(r.records.size(), 3u);
  EXPECT_EQ(r.records[2], "more");
  EXPECT_TRUE(r.reporter.messages.empty());
}

TEST(WalTest, TruncatedTailAtEveryByteRecoversTheIntactPrefix) {
  // 11 records: ten small ones, then one that crosses the first block boundary.
  std::vector<size_t> sizes(10, 3000);
  sizes.push_back(6000);
  std::string contents;
  Written w = WriteAll(&contents, 9, sizes);
  ASSERT_GT(contents.size(), kBlockSize);
  for (size_t cut = 0; cut <= contents.size(); cut++) {
    ReadResult r;
    ReadAll(std::string_view(contents).substr(0, cut), 9, &r);
    size_t intact = 0;
    while (intact < w.ends.size() && w.ends[intact] <= cut) intact++;
    ASSERT_EQ(r.records.size(), intact) << "cut at " << cut;
    for (size_t i = 0; i < intact; i++) ASSERT_EQ(r.records[i], w.records[i]);
    ASSERT_TRUE(r.reporter.messages.empty()) << "cut at " << cut << ": " << r.reporter.messages[0];
  }
}

TEST(WalTest, FlippedBitInTheMiddleIsReportedWithFileAndOffset) {
  // 1000-byte records: block 0 holds 32 of them and part of the 33rd.
  std::vector<size_t> sizes(200, 1000);
  std::string contents;
  Written w = WriteAll(&contents, 42, sizes);
  const size_t victim = 5;
  contents[w.starts[victim] + kHeaderSize + 10] ^= 0x10;

  ReadResult r;
  ReadAll(contents, 42, &r);
  ASSERT_FALSE(r.reporter.messages.empty());
  EXPECT_EQ(r.reporter.messages[0],
            "Corruption: wal 000042.log: checksum mismatch at " + std::to_string(w.starts[victim]));
  EXPECT_GT(r.reporter.dropped_bytes, 0u);
  // Records before the damage and every record starting in a later block are read.
  std::vector<std::string> expected;
  for (size_t i = 0; i < sizes.size(); i++) {
    if (i < victim || w.starts[i] >= kBlockSize) expected.push_back(w.records[i]);
  }
  EXPECT_TRUE(SameRecords(r.records, expected));
}

TEST(WalTest, BadLengthInTheMiddleIsReportedAndReadingResumesAtNextBlock) {
  std::vector<size_t> sizes(100, 1000);
  std::string contents;
  Written w = WriteAll(&contents, 42, sizes);
  const size_t victim = 3;
  contents[w.starts[victim] + wal::kLengthOffset + 1] = '\x7f';  // length ~32 KiB
  ReadResult r;
  ReadAll(contents, 42, &r);
  ASSERT_FALSE(r.reporter.messages.empty());
  EXPECT_EQ(r.reporter.messages[0], "Corruption: wal 000042.log: bad fragment length at " +
                                        std::to_string(w.starts[victim]));
  std::vector<std::string> expected;
  for (size_t i = 0; i < sizes.size(); i++) {
    if (i < victim || w.starts[i] >= kBlockSize) expected.push_back(w.records[i]);
  }
  EXPECT_TRUE(SameRecords(r.records, expected));
}

TEST(WalTest, CorruptFragmentOfASpanningRecordDropsTheWholeRecord) {
  std::string contents;
  Written w = WriteAll(&contents, 1, {100, 2 * kBlockSize, 100, kBlockSize, 5});
  // Damage the MIDDLE fragment of record 1 (in block 1).
  contents[kBlockSize + kHeaderSize + 1] ^= 1;
  ReadResult r;
  ReadAll(contents, 1, &r);
  EXPECT_FALSE(r.reporter.messages.empty());
  // Record 1 is lost; record 2 lies in the same block as record 1's tail.
  ASSERT_GE(r.records.size(), 2u);
  EXPECT_EQ(r.records.front(), w.records[0]);
  EXPECT_EQ(r.records.back(), w.records[4]);
  for (const auto& rec : r.records) EXPECT_NE(rec, w.records[1]);
}

TEST(WalTest, DamageInTheLastBlockIsTreatedAsATornTail) {
  // With nothing of this log after it, damage cannot be told from a torn
  // write; the reader ends the log there without a report.
  std::string contents;
  Written w = WriteAll(&contents, 1, {100, 100, 100});
  contents[w.starts[1] + kHeaderSize + 3] ^= 1;
  ReadResult r;
  ReadAll(contents, 1, &r);
  EXPECT_TRUE(SameRecords(r.records, std::vector<std::string>{w.records[0]}));
  EXPECT_TRUE(r.reporter.messages.empty());
}

TEST(WalTest, PreZeroedFileEndsCleanlyAfterTheLastRecord) {
  std::string contents(4 * kBlockSize, '\0');
  Written w;
  {
    StringFile file(&contents);
    WalWriter writer(&file, 11);
    for (size_t i = 0; i < 30; i++) {
      w.records.push_back(MakeRecord(i, 2000 + i * 100));
      ASSERT_TRUE(writer.AddRecord(w.records.back()).ok());
    }
  }
  ASSERT_EQ(contents.size(), 4 * kBlockSize);
  ReadResult r;
  ReadAll(contents, 11, &r);
  EXPECT_TRUE(SameRecords(r.records, w.records));
  EXPECT_TRUE(r.reporter.messages.empty());
}

TEST(WalTest, RecycledFileEndsCleanlyAtTheOldLogsRecords) {
  for (uint64_t seed = 1; seed <= 50; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Rng rng(seed);
    std::vector<size_t> old_sizes, new_sizes;
    for (int i = 0; i < 60; i++) old_sizes.push_back(rng.Uniform(4000));
    for (int i = 0; i < 20; i++) new_sizes.push_back(rng.Uniform(4000));
    std::string contents;
    WriteAll(&contents, 100, old_sizes, 1000);
    const size_t old_size = contents.size();
    Written w = WriteAll(&contents, 101, new_sizes);  // overwrites from offset 0
    ASSERT_EQ(contents.size(), old_size);
    ReadResult r;
    ReadAll(contents, 101, &r);
    EXPECT_TRUE(SameRecords(r.records, w.records));
    EXPECT_TRUE(r.reporter.messages.empty()) << r.reporter.messages[0];
  }
}

TEST(WalTest, RecycledFileWithTornLastWriteEndsCleanly) {
  for (uint64_t seed = 1; seed <= 50; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Rng rng(seed);
    std::vector<size_t> old_sizes, new_sizes;
    for (int i = 0; i < 40; i++) old_sizes.push_back(rng.Uniform(5000));
    for (int i = 0; i < 10; i++) new_sizes.push_back(rng.Uniform(5000));
    std::string old_log;
    WriteAll(&old_log, 100, old_sizes, 1000);
    std::string new_log;
    Written w = WriteAll(&new_log, 101, new_sizes);
    // Only a prefix of the last record's bytes reached the disk.
    const uint64_t last_start = w.starts.back();
    const uint64_t cut = last_start + rng.Uniform(w.ends.back() - last_start);
    std::string contents = old_log;
    contents.replace(0, cut, new_log, 0, cut);
    ReadResult r;
    ReadAll(contents, 101, &r);
    std::vector<std::string> expected(w.records.begin(), w.records.end() - 1);

    EXPECT_TRUE(SameRecords(r.records, expected));
    EXPECT_TRUE(r.reporter.messages.empty()) << r.reporter.messages[0];
  }
}

TEST(WalTest, WrongLogNumberReadsAsEmptyLog) {
  std::string contents;
  WriteAll(&contents, 8, {10, 20});
  ReadResult r;
  ReadAll(contents, 9, &r);
  EXPECT_TRUE(r.records.empty());
  EXPECT_TRUE(r.reporter.messages.empty());
}

TEST(WalTest, OnlyTheLow32BitsOfTheLogNumberAreStored) {
  std::string contents;
  const uint64_t number = (uint64_t{5} << 32) | 77;
  Written w = WriteAll(&contents, number, {10});
  EXPECT_EQ(DecodeFixed32(contents.data() + wal::kLogNumberOffset), 77u);
  ReadResult r;
  ReadAll(contents, number, &r);
  EXPECT_TRUE(SameRecords(r.records, w.records));
}

TEST(WalTest, ReaderWithoutChecksumsStillReadsAndStopsAtStaleRecords) {
  std::string contents;
  WriteAll(&contents, 1, {50000, 10, 20}, 500);
  Written w = WriteAll(&contents, 2, {10, 20});
  ReadResult r;
  ReadAll(contents, 2, &r, /*verify_checksums=*/false);
  EXPECT_TRUE(SameRecords(r.records, w.records));
}

TEST(WalTest, WriterErrorIsStickyAndReturnedByLaterCalls) {
  std::string contents;
  StringFile file(&contents);
  WalWriter writer(&file, 1);
  ASSERT_TRUE(writer.AddRecord("a").ok());
  file.set_fail(true);
  EXPECT_TRUE(writer.AddRecord("b").IsIOError());
  file.set_fail(false);
  EXPECT_TRUE(writer.AddRecord("c").IsIOError());
  EXPECT_TRUE(writer.Sync().IsIOError());
}

TEST(WalTest, NullReporterIsAllowed) {
  std::string contents;
  Written w = WriteAll(&contents, 1, std::vector<size_t>(100, 1000));
  contents[20] ^= 1;
  StringSource source(contents);
  WalReader reader(&source, "x.log", 1, nullptr);
  std::string scratch;
  std::string_view record;
  int n = 0;
  while (reader.ReadRecord(&record, &scratch)) n++;
  EXPECT_GT(n, 0);
}

class FailingSource final : public SequentialFile {
 public:
  Status Read(size_t, std::string_view* result, char*) override {
    *result = {};
    return Status::IOError("/db/000042.log", "read: Input/output error");
  }
  Status Skip(uint64_t) override { return Status::OK(); }
};

TEST(WalTest, ReadErrorIsReportedAndEndsTheLog) {
  FailingSource source;
  RecordingReporter reporter;
  WalReader reader(&source, "000042.log", 42, &reporter);
  std::string scratch;
  std::string_view record;
  EXPECT_FALSE(reader.ReadRecord(&record, &scratch));
  ASSERT_EQ(reporter.messages.size(), 1u);
  EXPECT_NE(reporter.messages[0].find("IOError"), std::string::npos) << reporter.messages[0];
}

TEST(WalTest, WithoutChecksumsDamagedPayloadIsReturnedAsIs) {
  std::string contents;
  Written w = WriteAll(&contents, 1, {10, 10});
  contents[kHeaderSize + 2] ^= 1;
  ReadResult r;
  ReadAll(contents, 1, &r, /*verify_checksums=*/false);
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_NE(r.records[0], w.records[0]);
  EXPECT_EQ(r.records[1], w.records[1]);
}

// Whatever one random byte of damage does, the reader returns only records
// that were written, in order, and everything in blocks after the damage.
TEST(WalTest, RandomDamageNeverYieldsARecordThatWasNotWritten) {
  for (uint64_t seed = 1; seed <= 300; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Rng rng(seed);
    std::vector<size_t> sizes;
    for (int i = 0; i < 40; i++) sizes.push_back(rng.Uniform(rng.OneIn(5) ? 40000 : 2000));
    std::string contents;
    Written w = WriteAll(&contents, 5, sizes);
    const uint64_t pos = rng.Uniform(contents.size());
    contents[pos] = static_cast<char>(contents[pos] ^ (1 + rng.Uniform(255)));
    ReadResult r;
    ReadAll(contents, 5, &r);
    size_t next = 0;  // index in w of the next candidate
    for (const auto& rec : r.records) {
      while (next < w.records.size() && w.records[next] != rec) next++;
      ASSERT_LT(next, w.records.size()) << "a record that was never written";
      next++;
    }
    const uint64_t damaged_block_end = (pos / kBlockSize + 1) * kBlockSize;
    for (size_t i = 0; i < w.records.size(); i++) {
      if (w.starts[i] >= damaged_block_end) {
        EXPECT_NE(std::find(r.records.begin(), r.records.end(), w.records[i]), r.records.end())
            << "record " << i << " after the damaged block was lost";
      }
    }
  }
}

// --- On the lying disk -------------------------------------------------------

TEST(WalTest, SyncedRecordsSurviveACrashAndUnsyncedOnesAreLost) {
  FaultInjectionEnv env;
  const std::string path = "/db/000003.log";
  ASSERT_TRUE(env.CreateDir("/db").ok());
  {
    auto file = env.NewWritableFile(path);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE(env.SyncDir("/db").ok());
    WalWriter writer(file->get(), 3);
    ASSERT_TRUE(writer.AddRecord("one").ok());
    ASSERT_TRUE(writer.AddRecord(std::string(50000, 'x')).ok());
    ASSERT_TRUE(writer.Sync().ok());
    ASSERT_TRUE(writer.AddRecord("lost").ok());
    env.Crash();
    // The old process's file handle is dead after the crash.
    EXPECT_TRUE(writer.AddRecord("after").IsIOError());
  }
  auto source = env.NewSequentialFile(path);
  ASSERT_TRUE(source.ok());
  RecordingReporter reporter;
  WalReader reader(source->get(), "000003.log", 3, &reporter);
  std::string scratch;
  std::string_view record;
  std::vector<std::string> got;
  while (reader.ReadRecord(&record, &scratch)) got.emplace_back(record);
  EXPECT_TRUE(SameRecords(got, {"one", std::string(50000, 'x')}));
  EXPECT_TRUE(reporter.messages.empty());
}

TEST(WalTest, TornWritesLeaveAPrefixOfRecordsAndNoCorruption) {
  for (uint64_t seed = 1; seed <= 40; seed++) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    FaultInjectionEnv env;
    env.SetTornWrites(true, seed);
    env.SetKeepUnsyncedDirEntries(true);
    Rng rng(seed);
    std::vector<std::string> records;
    size_t synced = 0;
    {
      auto file = env.NewWritableFile("000001.log");
      ASSERT_TRUE(file.ok());
      WalWriter writer(file->get(), 1);
      for (int i = 0; i < 30; i++) {
        records.push_back(MakeRecord(i, rng.Uniform(10000)));
        ASSERT_TRUE(writer.AddRecord(records.back()).ok());
        if (rng.OneIn(4)) {
          ASSERT_TRUE(writer.Sync().ok());
          synced = records.size();
        }
      }
      env.Crash();
    }
    auto source = env.NewSequentialFile("000001.log");
    ASSERT_TRUE(source.ok());
    RecordingReporter reporter;
    WalReader reader(source->get(), "000001.log", 1, &reporter);
    std::string scratch;
    std::string_view record;
    size_t n = 0;
    while (reader.ReadRecord(&record, &scratch)) {
      ASSERT_LT(n, records.size());
      ASSERT_EQ(record, records[n]);
      n++;
    }
    EXPECT_GE(n, synced);
    EXPECT_TRUE(reporter.messages.empty()) << reporter.messages[0];
  }
}

TEST(WalTest, FullDiskFailsAddRecordWithNoSpace) {
  FaultInjectionEnv env;
  env.SetSpaceLimit(10000);
  auto file = env.NewWritableFile("000001.log");
  ASSERT_TRUE(file.ok());
  WalWriter writer(file->get(), 1);
  ASSERT_TRUE(writer.AddRecord(std::string(5000, 'a')).ok());
  Status s = writer.AddRecord(std::string(6000, 'b'));
  EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
  EXPECT_NE(s.message().find("000001.log"), std::string::npos);
}

}  // namespace
}  // namespace dkv::storage

// libFuzzer target for the WAL reader (docs/formats/wal.md): arbitrary bytes
// are read as a log file and must never crash the reader, make it loop, or
// make it return more bytes than the file holds. A second pass writes the
// input (cut into records) with WalWriter into a FaultInjectionEnv file and
// requires it to read back exactly. Owned by the storage-io engineer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "storage/fault_env.h"
#include "storage/wal_reader.h"
#include "storage/wal_writer.h"

namespace {

using dkv::Status;
using dkv::storage::SequentialFile;
using dkv::storage::WalReader;

class BytesFile final : public SequentialFile {
 public:
  explicit BytesFile(std::string_view bytes) : bytes_(bytes) {}
  Status Read(size_t n, std::string_view* result, char* scratch) override {
    size_t got = n < bytes_.size() ? n : bytes_.size();
    std::memcpy(scratch, bytes_.data(), got);
    *result = std::string_view(scratch, got);
    bytes_.remove_prefix(got);
    return Status::OK();
  }
  Status Skip(uint64_t n) override {
    bytes_.remove_prefix(n < bytes_.size() ? n : bytes_.size());
    return Status::OK();
  }

 private:
  std::string_view bytes_;
};

class CountingReporter final : public WalReader::Reporter {
 public:
  void Corruption(size_t bytes, const Status& status) override {
    if (!status.IsCorruption()) std::abort();  // reads from memory cannot fail
    reports++;
  }
  size_t reports = 0;
};

void Check(bool ok) {
  if (!ok) std::abort();
}

void ReadArbitraryBytes(std::string_view input, bool verify_checksums) {
  BytesFile file(input);
  CountingReporter reporter;
  // Log number 1: a fuzzer-made header with number 1 tests the main path.
  WalReader reader(&file, "fuzz.log", 1, &reporter, verify_checksums);
  std::string scratch;
  std::string_view record;
  size_t total = 0;
  size_t records = 0;
  while (reader.ReadRecord(&record, &scratch)) {
    total += record.size();
    records++;
    Check(total <= input.size());  // payload bytes come from the file
    Check(records <= input.size() / dkv::storage::wal::kHeaderSize);
    Check(reader.LastRecordOffset() < input.size());
  }
  Check(!reader.ReadRecord(&record, &scratch));
}

void RoundTrip(std::string_view input) {
  // Cut the input into records at each 0xff byte; the byte before a cut
  // scales the record up so that some span blocks.
  std::vector<std::string> records;
  std::string current;
  for (unsigned char c : input) {
    if (c == 0xff) {
      size_t repeat = current.empty() ? 1 : 1 + static_cast<unsigned char>(current.back()) * 300;
      std::string rec;
      for (size_t i = 0; i < repeat && rec.size() < 200000; i++) rec += current;
      records.push_back(std::move(rec));
      current.clear();
    } else {
      current.push_back(static_cast<char>(c));
    }
  }
  records.push_back(current);

  dkv::storage::FaultInjectionEnv env;
  {
    auto file = env.NewWritableFile("/wal");
    Check(file.ok());
    dkv::storage::WalWriter writer(file->get(), 9);
    for (const auto& r : records) Check(writer.AddRecord(r).ok());
    Check(writer.Sync().ok());
  }
  auto source = env.NewSequentialFile("/wal");
  Check(source.ok());
  CountingReporter reporter;
  WalReader reader(source->get(), "wal", 9, &reporter);
  std::string scratch;
  std::string_view record;
  for (const auto& r : records) {
    Check(reader.ReadRecord(&record, &scratch));
    Check(record == r);
  }
  Check(!reader.ReadRecord(&record, &scratch));
  Check(reporter.reports == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ReadArbitraryBytes(input, /*verify_checksums=*/true);
  ReadArbitraryBytes(input, /*verify_checksums=*/false);
  if (size <= 4096) RoundTrip(input);
  return 0;
}

#include "node/shard_snapshot.h"

#include <algorithm>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "common/assert.h"
#include "common/coding.h"
#include "common/hash.h"
#include "node/limits.h"

namespace dkv::node {

namespace {

constexpr char kSnapshotMagic[4] = {'D', 'K', 'S', 'S'};
constexpr uint8_t kSnapshotVersion = 1;
// magic | version
constexpr size_t kSnapshotPreambleBytes = sizeof(kSnapshotMagic) + 1;

// Checksum32 (common/hash.h: the low 32 bits of XXH3-64 over the bytes) fed
// piece by piece; equal to Checksum32 of the concatenation.
class StreamChecksum {
 public:
  StreamChecksum() { Reset(); }
  void Reset() { XXH3_64bits_reset(&state_); }
  void Update(std::string_view data) { XXH3_64bits_update(&state_, data.data(), data.size()); }
  uint32_t Digest() const { return static_cast<uint32_t>(XXH3_64bits_digest(&state_)); }

 private:
  XXH3_state_t state_;
};

bool PlainFileName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxSnapshotFileNameBytes && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos && name.find('\0') == std::string_view::npos;
}

void RemoveDirAndFiles(storage::Env* env, const std::string& dir) {
  auto children = env->GetChildren(dir);
  if (children.ok()) {
    for (const std::string& name : *children) env->RemoveFile(dir + "/" + name).IgnoreError();
  }
  env->RemoveDir(dir).IgnoreError();
}

Status Bad(std::string_view what) { return Status::Corruption("shard snapshot", what); }

}  // namespace

// ---------------------------------------------------------------------------
// The whole format in memory

std::string EncodeSnapshotFiles(const std::vector<SnapshotFile>& files) {
  std::string out(kSnapshotMagic, sizeof(kSnapshotMagic));
  out.push_back(static_cast<char>(kSnapshotVersion));
  PutVarint32(&out, static_cast<uint32_t>(files.size()));
  for (const SnapshotFile& f : files) {
    PutLengthPrefixed(&out, f.name);
    PutFixed64(&out, f.contents.size());
    out.append(f.contents);
    PutFixed32(&out, Checksum32(f.name, f.contents));
  }
  PutFixed32(&out, Checksum32(out));
  return out;
}

Result<std::vector<SnapshotFile>> DecodeSnapshotFiles(std::string_view data) {
  if (data.size() < kSnapshotPreambleBytes + 4) return Bad("too short");
  const uint32_t want = DecodeFixed32(data.data() + data.size() - 4);
  std::string_view in = data.substr(0, data.size() - 4);
  if (Checksum32(in) != want) return Bad("checksum mismatch");
  if (in.substr(0, 4) != std::string_view(kSnapshotMagic, 4)) return Bad("bad magic");
  if (static_cast<uint8_t>(in[4]) != kSnapshotVersion) return Bad("unknown version");
  in.remove_prefix(kSnapshotPreambleBytes);
  uint32_t count;
  if (!GetVarint32(&in, &count) || count > kMaxSnapshotFiles) return Bad("bad file count");
  std::vector<SnapshotFile> files;
  std::set<std::string_view> names;
  for (uint32_t i = 0; i < count; i++) {
    std::string_view name;
    uint64_t size;
    if (!GetLengthPrefixed(&in, &name) || !GetFixed64(&in, &size)) return Bad("bad file header");
    if (!PlainFileName(name)) return Bad("bad file name");
    if (!names.insert(name).second) return Bad("duplicate file name");
    if (size > in.size()) return Bad("file beyond the data");
    std::string_view contents = in.substr(0, size);
    in.remove_prefix(size);
    uint32_t crc;
    if (!GetFixed32(&in, &crc) || crc != Checksum32(name, contents)) return Bad("file checksum");
    files.push_back({std::string(name), std::string(contents)});
  }
  if (!in.empty()) return Bad("trailing bytes");
  return files;
}

// ---------------------------------------------------------------------------
// SnapshotFileSource

Result<std::shared_ptr<SnapshotFileSource>> SnapshotFileSource::Create(storage::Env* env,
                                                                       std::string dir) {
  std::shared_ptr<SnapshotFileSource> src(new SnapshotFileSource(env, dir));
  // From here on the source owns `dir`: an error below deletes it with the source.
  DKV_ASSIGN_OR_RETURN(std::vector<std::string> names, env->GetChildren(dir));
  std::sort(names.begin(), names.end());
  if (names.size() > kMaxSnapshotFiles) return Bad("too many files in the checkpoint");
  StreamChecksum whole;
  std::string header(kSnapshotMagic, sizeof(kSnapshotMagic));
  header.push_back(static_cast<char>(kSnapshotVersion));
  PutVarint32(&header, static_cast<uint32_t>(names.size()));
  whole.Update(header);
  src->AddLiteral(std::move(header));
  std::string buffer;
  for (const std::string& name : names) {
    if (!PlainFileName(name)) return Bad("checkpoint file name " + name);
    const std::string path = dir + "/" + name;
    DKV_ASSIGN_OR_RETURN(uint64_t size, env->GetFileSize(path));
    std::string file_header;
    PutLengthPrefixed(&file_header, name);
    PutFixed64(&file_header, size);
    whole.Update(file_header);
    src->AddLiteral(std::move(file_header));
    const size_t index = src->files_.size();
    src->files_.push_back(name);
    src->segments_.push_back(Segment{src->size_, size, {}, static_cast<int64_t>(index)});
    src->size_ += size;
    // One pass over the contents for the checksums, kSnapshotIoBytes at a time.
    StreamChecksum file_sum;
    file_sum.Update(name);
    for (uint64_t at = 0; at < size;) {
      const uint64_t n = std::min<uint64_t>(kSnapshotIoBytes, size - at);
      buffer.clear();
      DKV_RETURN_IF_ERROR(src->ReadFile(index, at, n, &buffer));
      file_sum.Update(buffer);
      whole.Update(buffer);
      at += n;
    }
    std::string crc;
    PutFixed32(&crc, file_sum.Digest());
    whole.Update(crc);
    src->AddLiteral(std::move(crc));
  }
  std::string trailer;
  PutFixed32(&trailer, whole.Digest());
  src->AddLiteral(std::move(trailer));
  src->open_.reset();
  src->open_file_ = -1;
  return src;
}

SnapshotFileSource::~SnapshotFileSource() {
  open_.reset();
  RemoveDirAndFiles(env_, dir_);
}

void SnapshotFileSource::AddLiteral(std::string bytes) {
  const uint64_t size = bytes.size();
  segments_.push_back(Segment{size_, size, std::move(bytes), -1});
  size_ += size;
}

Status SnapshotFileSource::ReadFile(size_t file, uint64_t offset, uint64_t len,
                                    std::string* out) const {
  const std::string path = dir_ + "/" + files_[file];
  if (open_file_ != static_cast<int64_t>(file)) {
    open_.reset();
    open_file_ = -1;
    DKV_ASSIGN_OR_RETURN(open_, env_->NewRandomAccessFile(path));
    open_file_ = static_cast<int64_t>(file);
  }
  const size_t old = out->size();
  out->resize(old + len);
  std::string_view got;
  DKV_RETURN_IF_ERROR(open_->Read(offset, len, &got, out->data() + old));
  if (got.size() != len) {
    out->resize(old);
    return Status::Corruption(path, "short read at " + std::to_string(offset));
  }
  if (got.data() != out->data() + old) std::copy(got.begin(), got.end(), out->begin() + old);
  return Status::OK();
}

Status SnapshotFileSource::Read(uint64_t offset, uint64_t len, std::string* out) const {
  DKV_ASSERT(offset <= size_);
  len = std::min(len, size_ - offset);
  // The segment holding `offset`: the last one starting at or before it.
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](uint64_t off, const Segment& s) { return off < s.start; });
  DKV_ASSERT(it != segments_.begin() || len == 0);
  if (it != segments_.begin()) --it;
  // Ends: every turn consumes at least one byte or moves to the next segment.
  while (len > 0) {
    DKV_ASSERT(it != segments_.end());
    DKV_ASSERT(offset >= it->start);
    const uint64_t within = offset - it->start;
    const uint64_t n = std::min(len, it->size - within);
    if (n > 0) {
      if (it->file < 0) {
        out->append(it->bytes, within, n);
      } else {
        DKV_RETURN_IF_ERROR(ReadFile(static_cast<size_t>(it->file), within, n, out));
      }
    }
    offset += n;
    len -= n;
    ++it;
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// SnapshotReceiver

struct SnapshotReceiver::Hashes {
  StreamChecksum whole;  // every byte before the trailer
  StreamChecksum file;   // name || contents of the current file
};

SnapshotReceiver::SnapshotReceiver(storage::Env* env) : env_(env) {}

SnapshotReceiver::~SnapshotReceiver() { CloseFile(); }

void SnapshotReceiver::CloseFile() {
  if (file_) file_->Close().IgnoreError();
  file_.reset();
}

Status SnapshotReceiver::Begin(std::string dir) {
  Abort();
  dir_ = std::move(dir);
  RemoveDirAndFiles(env_, dir_);  // a stream cut short earlier (or a crash's leftover)
  DKV_RETURN_IF_ERROR(env_->CreateDir(dir_));
  hashes_ = std::make_unique<Hashes>();
  stage_ = Stage::kHeader;
  return Status::OK();
}

void SnapshotReceiver::Abort() {
  CloseFile();
  if (!dir_.empty()) RemoveDirAndFiles(env_, dir_);
  dir_.clear();
  pending_.clear();
  names_.clear();
  hashes_.reset();
  failure_ = Status::OK();
  stage_ = Stage::kIdle;
}

void SnapshotReceiver::Release() {
  DKV_ASSERT(finished());
  dir_.clear();  // so Abort keeps the files
  Abort();
}

Status SnapshotReceiver::Fail(Status st) {
  CloseFile();
  failure_ = st;
  stage_ = Stage::kFailed;
  return st;
}

size_t SnapshotReceiver::Needed() const {
  // A varint32 at `at` in pending_: its end when complete, else one more byte.
  auto varint_end = [this](size_t at) -> size_t {
    for (size_t i = at; i < pending_.size(); i++) {
      if ((static_cast<uint8_t>(pending_[i]) & 0x80) == 0) return i + 1;
    }
    return pending_.size() + 1;
  };
  switch (stage_) {
    case Stage::kHeader:
      if (pending_.size() < kSnapshotPreambleBytes) return kSnapshotPreambleBytes;
      return varint_end(kSnapshotPreambleBytes);
    case Stage::kFileHeader: {
      const size_t end = varint_end(0);
      if (end > pending_.size()) return end;
      std::string_view in = pending_;
      uint32_t name_len = 0;
      if (!GetVarint32(&in, &name_len)) return end;  // malformed: ParseField says so
      return end + std::min<size_t>(name_len, kMaxSnapshotFileNameBytes + 1) + 8;
    }
    case Stage::kFileChecksum:
    case Stage::kTrailer:
      return 4;
    default:
      return 0;
  }
}

Status SnapshotReceiver::ParseField() {
  std::string_view in = pending_;
  switch (stage_) {
    case Stage::kHeader: {
      if (in.substr(0, 4) != std::string_view(kSnapshotMagic, 4)) return Bad("bad magic");
      if (static_cast<uint8_t>(in[4]) != kSnapshotVersion) return Bad("unknown version");
      in.remove_prefix(kSnapshotPreambleBytes);
      if (!GetVarint32(&in, &files_left_) || files_left_ > kMaxSnapshotFiles || !in.empty()) {
        return Bad("bad file count");
      }
      hashes_->whole.Update(pending_);
      stage_ = files_left_ > 0 ? Stage::kFileHeader : Stage::kTrailer;
      return Status::OK();
    }
    case Stage::kFileHeader: {
      std::string_view name;
      uint64_t size;
      if (!GetLengthPrefixed(&in, &name) || !GetFixed64(&in, &size) || !in.empty()) {
        return Bad("bad file header");
      }
      if (!PlainFileName(name)) return Bad("bad file name");
      if (!names_.insert(std::string(name)).second) return Bad("duplicate file name");
      file_name_.assign(name);
      DKV_ASSIGN_OR_RETURN(file_, env_->NewWritableFile(dir_ + "/" + file_name_));
      hashes_->whole.Update(pending_);
      hashes_->file.Reset();
      hashes_->file.Update(name);
      contents_left_ = size;
      stage_ = size > 0 ? Stage::kContents : Stage::kFileChecksum;
      return Status::OK();
    }
    case Stage::kFileChecksum: {
      if (DecodeFixed32(pending_.data()) != hashes_->file.Digest()) return Bad("file checksum");
      hashes_->whole.Update(pending_);
      DKV_ASSERT(file_ != nullptr);
      DKV_RETURN_IF_ERROR(file_->Sync());
      DKV_RETURN_IF_ERROR(file_->Close());
      file_.reset();
      files_left_--;
      stage_ = files_left_ > 0 ? Stage::kFileHeader : Stage::kTrailer;
      return Status::OK();
    }
    case Stage::kTrailer:
      if (DecodeFixed32(pending_.data()) != hashes_->whole.Digest())
        return Bad("checksum mismatch");
      stage_ = Stage::kDone;
      return Status::OK();
    default:
      DKV_ASSERT(false);
      return Bad("internal: no field to parse");
  }
}

Status SnapshotReceiver::Append(std::string_view chunk) {
  if (stage_ == Stage::kFailed) return failure_;
  DKV_ASSERT(stage_ != Stage::kIdle);
  // Ends: every turn consumes at least one byte of `chunk` or fails.
  while (!chunk.empty()) {
    if (stage_ == Stage::kDone || stage_ == Stage::kFinished) return Fail(Bad("trailing bytes"));
    if (stage_ == Stage::kContents) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(contents_left_, chunk.size()));
      const std::string_view piece = chunk.substr(0, n);
      if (Status st = file_->Append(piece); !st.ok()) return Fail(st);
      hashes_->file.Update(piece);
      hashes_->whole.Update(piece);
      contents_left_ -= n;
      chunk.remove_prefix(n);
      if (contents_left_ == 0) stage_ = Stage::kFileChecksum;
      continue;
    }
    const size_t need = Needed();
    DKV_ASSERT(need > pending_.size());
    if (need > kMaxSnapshotFileNameBytes + 32) return Fail(Bad("field too long"));
    const size_t n = std::min(need - pending_.size(), chunk.size());
    pending_.append(chunk.substr(0, n));
    chunk.remove_prefix(n);
    if (pending_.size() < Needed()) continue;  // the field's length just became known
    if (Status st = ParseField(); !st.ok()) return Fail(st);
    pending_.clear();
  }
  return Status::OK();
}

Status SnapshotReceiver::Finish() {
  if (stage_ == Stage::kFailed) return failure_;
  if (stage_ != Stage::kDone) return Fail(Bad("truncated stream"));
  if (Status st = env_->SyncDir(dir_); !st.ok()) return Fail(st);
  stage_ = Stage::kFinished;
  return Status::OK();
}

}  // namespace dkv::node

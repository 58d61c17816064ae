// Shard snapshots streamed file by file: the frozen byte format of a shard
// snapshot (a checkpoint of the shard's engine, docs/node.md "Snapshots"), a
// SnapshotFileSource that serves those bytes piece by piece straight from the
// checkpoint's files (the leader), and a SnapshotReceiver that decodes them
// incrementally and writes each file to disk as its bytes arrive (the
// follower). Neither ever holds more than one chunk and one file header in
// memory, whatever the shard's size.
//
// Format (frozen):
//   "DKSS" | version(1)=1 | varint32 file count |
//   count x ( lp name | fixed64 size | bytes | fixed32 Checksum32(name || bytes) ) |
//   fixed32 Checksum32(every byte before)
//
// Owned by the shard state machine (one source per snapshot being sent, one
// receiver per replica); not thread-safe: the node's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "raft/types.h"
#include "storage/env.h"

namespace dkv::node {

// A snapshot's file, for the in-memory codec below (tests, fuzzing).
struct SnapshotFile {
  std::string name;
  std::string contents;
};
// The whole format in memory: for tests and tools; nodes stream (below).
std::string EncodeSnapshotFiles(const std::vector<SnapshotFile>& files);
// Corruption on any malformed or mismatching byte; accepts exactly what a
// SnapshotReceiver accepts.
Result<std::vector<SnapshotFile>> DecodeSnapshotFiles(std::string_view data);

// The snapshot bytes of the files of a directory (a checkpoint), read from the
// files as they are asked for. The directory is the source's: it is deleted
// when the source is destroyed (raft keeps the source while it streams).
class SnapshotFileSource final : public raft::SnapshotSource {
 public:
  // Lists `dir` (sorted names) and reads every file once, in bounded buffers,
  // to compute the checksums the format carries. On failure `dir` is deleted.
  static Result<std::shared_ptr<SnapshotFileSource>> Create(storage::Env* env, std::string dir);
  ~SnapshotFileSource() override;
  SnapshotFileSource(const SnapshotFileSource&) = delete;
  SnapshotFileSource& operator=(const SnapshotFileSource&) = delete;

  uint64_t Size() const override { return size_; }
  // IOError/Corruption when a file cannot be read or came back short.
  Status Read(uint64_t offset, uint64_t len, std::string* out) const override;

 private:
  // One piece of the stream: literal bytes (headers, checksums) or a file's contents.
  struct Segment {
    uint64_t start = 0;  // offset in the stream
    uint64_t size = 0;
    std::string bytes;  // literal bytes when file < 0
    int64_t file = -1;  // index into files_ for contents
  };
  SnapshotFileSource(storage::Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  void AddLiteral(std::string bytes);
  Status ReadFile(size_t file, uint64_t offset, uint64_t len, std::string* out) const;

  storage::Env* const env_;
  const std::string dir_;
  std::vector<std::string> files_;
  std::vector<Segment> segments_;
  uint64_t size_ = 0;
  // The last file read stays open: a chunk usually continues where the last
  // one stopped.
  mutable int64_t open_file_ = -1;
  mutable std::unique_ptr<storage::RandomAccessFile> open_;
};

// Decodes a snapshot stream chunk by chunk and writes its files into a
// directory as the bytes arrive (each file synced when complete, the directory
// at Finish). Every check of DecodeSnapshotFiles happens, per file as soon as
// it ends and for the whole at Finish; the caller switches to the files only
// after Finish returned OK.
class SnapshotReceiver {
 public:
  explicit SnapshotReceiver(storage::Env* env);
  ~SnapshotReceiver();
  SnapshotReceiver(const SnapshotReceiver&) = delete;
  SnapshotReceiver& operator=(const SnapshotReceiver&) = delete;

  // Starts a stream into `dir`, which is emptied (a partial earlier stream)
  // and created. Drops any stream in progress.
  Status Begin(std::string dir);
  // The next bytes of the stream. Corruption for a malformed or mismatching
  // byte (sticky: every later call fails too), or the file system's error.
  // REQUIRES: Begin succeeded.
  Status Append(std::string_view chunk);
  // The stream ended: Corruption when it is truncated; OK when everything
  // checked out and the files and the directory are durable.
  Status Finish();
  // Deletes the directory and forgets the stream.
  void Abort();
  // Forgets a finished stream, keeping its directory (now someone else's,
  // e.g. the live engine's). REQUIRES: finished().
  void Release();

  bool finished() const { return stage_ == Stage::kFinished; }
  const std::string& dir() const { return dir_; }
  // Names of the files received so far (sorted).
  const std::set<std::string>& names() const { return names_; }

 private:
  enum class Stage {
    kIdle,
    kHeader,
    kFileHeader,
    kContents,
    kFileChecksum,
    kTrailer,
    kDone,
    kFinished,
    kFailed
  };
  // Bytes `pending_` must hold before the current field can be parsed (more
  // than it holds when the field's length is not known yet).
  size_t Needed() const;
  Status ParseField();
  Status Fail(Status st);
  void CloseFile();

  storage::Env* const env_;
  Stage stage_ = Stage::kIdle;
  Status failure_;
  std::string dir_;
  std::string pending_;  // a field's bytes received so far (bounded by Needed())
  uint32_t files_left_ = 0;
  uint64_t contents_left_ = 0;
  std::string file_name_;
  std::unique_ptr<storage::WritableFile> file_;
  std::set<std::string> names_;
  struct Hashes;  // streaming checksums (xxHash state), kept out of this header
  std::unique_ptr<Hashes> hashes_;
};

}  // namespace dkv::node

// DBImpl::CreateCheckpoint: an openable copy of the DB made of hard links to
// the live tables plus a fresh manifest that names exactly them.
#include <cinttypes>

#include "storage/db_impl.h"
#include "storage/filename.h"
#include "storage/wal_writer.h"

namespace dkv::storage {

namespace {
// Chunk size for copying a table when hard links are not possible.
constexpr size_t kCopyChunkBytes = 1 << 20;

Status CopyFile(Env* env, const std::string& src, const std::string& dst) {
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> in, env->NewSequentialFile(src));
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> out, env->NewWritableFile(dst));
  std::string scratch(kCopyChunkBytes, '\0');
  while (true) {
    std::string_view chunk;
    DKV_RETURN_IF_ERROR(in->Read(kCopyChunkBytes, &chunk, scratch.data()));
    if (chunk.empty()) break;
    DKV_RETURN_IF_ERROR(out->Append(chunk));
  }
  DKV_RETURN_IF_ERROR(out->Sync());
  return out->Close();
}
}  // namespace

Status DBImpl::CreateCheckpoint(const std::string& dir) {
  if (env_->FileExists(dir)) return Status::InvalidArgument(dir, "checkpoint target exists");
  // Everything written before the call goes into a table first, so the
  // checkpoint needs no WAL.
  DKV_RETURN_IF_ERROR(Flush());

  VersionEdit edit;
  Version* version;
  uint64_t manifest_number;
  {
    MutexLock l(&mu_);
    if (!bg_error_.ok()) return bg_error_;
    version = versions_->current();
    version->Ref();  // keeps its tables from deletion while we link them
    versions_->WriteSnapshot(&edit);
    // Numbers from here on are free in the copy; no log is replayed there.
    manifest_number = versions_->NewFileNumber();
    edit.SetLogNumber(manifest_number + 1);
    edit.SetNextFile(manifest_number + 2);
  }
  Status s = env_->CreateDir(dir);
  for (const auto& [level, f] : edit.new_files()) {
    if (!s.ok()) break;
    const std::string src = TableFileName(dbname_, f.number);
    const std::string dst = TableFileName(dir, f.number);
    s = env_->LinkFile(src, dst);
    if (!s.ok()) s = CopyFile(env_, src, dst);
  }
  if (s.ok()) {
    const std::string manifest = DescriptorFileName(dir, manifest_number);
    auto file = env_->NewWritableFile(manifest);
    s = file.status();
    if (s.ok()) {
      std::string record;
      edit.EncodeTo(&record);
      WalWriter writer(file->get(), manifest_number);
      s = writer.AddRecord(record);
      if (s.ok()) s = writer.Sync();
      if (s.ok()) s = (*file)->Close();
    }
  }
  if (s.ok()) s = SetCurrentFile(env_, dir, manifest_number);  // syncs dir
  {
    MutexLock l(&mu_);
    version->Unref();
  }
  return s.WithContext("checkpoint " + dir);
}

}  // namespace dkv::storage

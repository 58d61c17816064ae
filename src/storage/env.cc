// Helpers built on any Env (declared in env.h). Owned by the storage-io engineer.
#include <string>

#include "storage/env.h"

namespace dkv::storage {

namespace {
// ReadFileToString reads in chunks of this size: a small file (CURRENT,
// OPTIONS) takes one read, a larger one few syscalls, and the scratch buffer
// stays modest.
constexpr size_t kReadChunkBytes = 64 * 1024;
}  // namespace

Status WriteStringToFile(Env* env, std::string_view data, const std::string& path, bool sync) {
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  Status s = file->Append(data);
  if (s.ok() && sync) s = file->Sync();
  if (s.ok()) {
    s = file->Close();
  } else {
    file->Close().IgnoreError();  // the first error is the one worth reporting
  }
  file.reset();
  if (!s.ok()) env->RemoveFile(path).IgnoreError();  // never leave a half-written file
  return s;
}

Result<std::string> ReadFileToString(Env* env, const std::string& path) {
  DKV_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, env->NewSequentialFile(path));
  std::string out;
  std::unique_ptr<char[]> scratch(new char[kReadChunkBytes]);
  for (;;) {
    std::string_view chunk;
    DKV_RETURN_IF_ERROR(file->Read(kReadChunkBytes, &chunk, scratch.get()));
    out.append(chunk);
    if (chunk.size() < kReadChunkBytes) break;  // a short read is end of file
  }
  return out;
}

}  // namespace dkv::storage

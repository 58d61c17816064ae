#include "storage/filename.h"

#include <cstdio>

namespace dkv::storage {

namespace {
std::string NumberedName(uint64_t number, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%06llu.%s", static_cast<unsigned long long>(number), suffix);
  return buf;
}

// Parses a decimal number that fills all of s. False on overflow or junk.
bool ParseNumber(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}
}  // namespace

std::string LogBaseName(uint64_t number) { return NumberedName(number, "log"); }
std::string TableBaseName(uint64_t number) { return NumberedName(number, "sst"); }

std::string LogFileName(const std::string& dbname, uint64_t number) {
  return dbname + "/" + LogBaseName(number);
}
std::string TableFileName(const std::string& dbname, uint64_t number) {
  return dbname + "/" + TableBaseName(number);
}
std::string DescriptorFileName(const std::string& dbname, uint64_t number) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/MANIFEST-%06llu", static_cast<unsigned long long>(number));
  return dbname + buf;
}
std::string CurrentFileName(const std::string& dbname) { return dbname + "/CURRENT"; }
std::string LockFileName(const std::string& dbname) { return dbname + "/LOCK"; }
std::string InfoLogFileName(const std::string& dbname) { return dbname + "/LOG"; }
std::string TempFileName(const std::string& dbname, uint64_t number) {
  return dbname + "/" + NumberedName(number, "dbtmp");
}

bool ParseFileName(std::string_view name, uint64_t* number, FileType* type) {
  if (name == "CURRENT") {
    *number = 0;
    *type = FileType::kCurrentFile;
    return true;
  }
  if (name == "LOCK") {
    *number = 0;
    *type = FileType::kLockFile;
    return true;
  }
  if (name == "LOG" || name == "LOG.old") {
    *number = 0;
    *type = FileType::kInfoLogFile;
    return true;
  }
  constexpr std::string_view kManifestPrefix = "MANIFEST-";
  if (name.starts_with(kManifestPrefix)) {
    if (!ParseNumber(name.substr(kManifestPrefix.size()), number)) return false;
    *type = FileType::kDescriptorFile;
    return true;
  }
  size_t dot = name.find('.');
  if (dot == std::string_view::npos) return false;
  if (!ParseNumber(name.substr(0, dot), number)) return false;
  std::string_view suffix = name.substr(dot + 1);
  if (suffix == "log") {
    *type = FileType::kLogFile;
  } else if (suffix == "sst") {
    *type = FileType::kTableFile;
  } else if (suffix == "dbtmp") {
    *type = FileType::kTempFile;
  } else {
    return false;
  }
  return true;
}

Status SetCurrentFile(Env* env, const std::string& dbname, uint64_t descriptor_number) {
  std::string manifest = DescriptorFileName(dbname, descriptor_number);
  std::string contents = manifest.substr(dbname.size() + 1) + "\n";
  std::string tmp = TempFileName(dbname, descriptor_number);
  Status s = WriteStringToFile(env, contents, tmp, /*sync=*/true);
  if (s.ok()) s = env->RenameFile(tmp, CurrentFileName(dbname));
  if (s.ok()) s = env->SyncDir(dbname);
  if (!s.ok()) env->RemoveFile(tmp).IgnoreError();
  return s;
}

}  // namespace dkv::storage

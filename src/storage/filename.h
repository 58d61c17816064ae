// File names inside a DB directory, and the one place that parses them.
//
// A DB directory holds numbered files that share one counter (the manifest's
// next_file_number): write-ahead logs `000123.log`, tables `000124.sst`,
// manifests `MANIFEST-000005`, temporaries `000126.dbtmp`; and fixed names:
// `CURRENT` (names the live manifest), `LOCK` (held while open), `LOG`
// (human-readable info). Owned by the DB engineer. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "storage/env.h"

namespace dkv::storage {

enum class FileType {
  kLogFile,
  kTableFile,
  kDescriptorFile,
  kCurrentFile,
  kLockFile,
  kInfoLogFile,
  kTempFile,
};

std::string LogFileName(const std::string& dbname, uint64_t number);
std::string TableFileName(const std::string& dbname, uint64_t number);
std::string DescriptorFileName(const std::string& dbname, uint64_t number);
std::string CurrentFileName(const std::string& dbname);
std::string LockFileName(const std::string& dbname);
std::string InfoLogFileName(const std::string& dbname);
std::string TempFileName(const std::string& dbname, uint64_t number);

// The bare name (no directory) of a numbered file, e.g. "000042.log": used
// in error messages.
std::string LogBaseName(uint64_t number);
std::string TableBaseName(uint64_t number);

// Parses a directory entry name. Returns false for names that are not ours.
// *number is 0 for the fixed names.
bool ParseFileName(std::string_view name, uint64_t* number, FileType* type);

// Points CURRENT at MANIFEST-<descriptor_number>: writes a temporary file,
// syncs it, renames it over CURRENT and syncs the directory, so a crash
// leaves either the old or the new CURRENT, never a torn one.
Status SetCurrentFile(Env* env, const std::string& dbname, uint64_t descriptor_number);

}  // namespace dkv::storage

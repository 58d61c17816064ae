// StoredValue: what the Keyspace stores under each key — a type, an optional
// expiry and the payload — and its frozen encoding in the engine
// (docs/formats/keyspace.md). Plain data; safe to copy between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace dkv::server {

// Frozen: stored as the first byte of every value.
enum class ValueType : uint8_t {
  kString = 0,
};

struct StoredValue {
  ValueType type = ValueType::kString;
  int64_t expire_at_ms = 0;  // 0: no expiry
  std::string payload;
};

// Frozen encoding (docs/formats/keyspace.md).
inline constexpr char kKeyPrefix = 'k';
inline constexpr size_t kValueHeaderSize = 9;  // type byte + fixed64 expiry
std::string EncodeStoredValue(const StoredValue& v);
// The same from the parts (no StoredValue to build first).
std::string EncodeStoredValue(ValueType type, int64_t expire_at_ms, std::string_view payload);
// The same into *out (replacing its contents; its buffer is reused).
void EncodeStoredValueTo(std::string* out, ValueType type, int64_t expire_at_ms,
                         std::string_view payload);
// Corruption if shorter than the header or of an unknown type.
Status DecodeStoredValue(std::string_view bytes, StoredValue* v);

}  // namespace dkv::server

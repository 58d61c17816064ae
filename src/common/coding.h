// Little-endian fixed-width and varint encodings shared by every on-disk and
// on-wire format. The decoders take a std::string_view* cursor, advance it past
// what they consumed, and return false (leaving it unspecified) on short or
// malformed input: they never read past the view. Stateless; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dkv {

constexpr int kMaxVarint32Bytes = 5;
constexpr int kMaxVarint64Bytes = 10;

inline void EncodeFixed32(char* dst, uint32_t value) {
  for (int i = 0; i < 4; i++) dst[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
inline void EncodeFixed64(char* dst, uint64_t value) {
  for (int i = 0; i < 8; i++) dst[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}
inline uint32_t DecodeFixed32(const char* src) {
  const auto* p = reinterpret_cast<const uint8_t*>(src);
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
inline uint64_t DecodeFixed64(const char* src) {
  return static_cast<uint64_t>(DecodeFixed32(src)) |
         (static_cast<uint64_t>(DecodeFixed32(src + 4)) << 32);
}

void PutFixed32(std::string* dst, uint32_t value);
void PutFixed64(std::string* dst, uint64_t value);
void PutVarint32(std::string* dst, uint32_t value);
void PutVarint64(std::string* dst, uint64_t value);
// Varint length followed by the bytes.
void PutLengthPrefixed(std::string* dst, std::string_view value);

// Writes a varint at dst (which must have kMaxVarint64Bytes of room) and
// returns the byte after it.
char* EncodeVarint32(char* dst, uint32_t value);
char* EncodeVarint64(char* dst, uint64_t value);
int VarintLength(uint64_t value);

bool GetFixed32(std::string_view* input, uint32_t* value);
bool GetFixed64(std::string_view* input, uint64_t* value);
bool GetVarint32(std::string_view* input, uint32_t* value);
bool GetVarint64(std::string_view* input, uint64_t* value);
bool GetLengthPrefixed(std::string_view* input, std::string_view* result);

// Pointer-range forms for hot paths: decode from [p, limit), return the byte
// after the varint, or nullptr if it is truncated or longer than allowed.
const char* GetVarint32Ptr(const char* p, const char* limit, uint32_t* value);
const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* value);

}  // namespace dkv

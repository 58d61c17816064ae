#include "server/reply.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/assert.h"

namespace dkv::server {

namespace {

void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

}  // namespace

void ReplyBuilder::Simple(std::string_view s) {
  DKV_DASSERT(s.find_first_of("\r\n") == std::string_view::npos);
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Error(std::string_view message) {
  out_->push_back('-');
  for (char c : message) out_->push_back((c == '\r' || c == '\n') ? ' ' : c);
  out_->append("\r\n");
}

void ReplyBuilder::Integer(int64_t v) {
  out_->push_back(':');
  AppendInt(out_, v);
  out_->append("\r\n");
}

void ReplyBuilder::Bulk(std::string_view s) {
  out_->push_back('$');
  AppendInt(out_, static_cast<int64_t>(s.size()));
  out_->append("\r\n");
  out_->append(s);
  out_->append("\r\n");
}

void ReplyBuilder::Null() { out_->append(protocol_ >= 3 ? "_\r\n" : "$-1\r\n"); }

void ReplyBuilder::NullArray() { out_->append(protocol_ >= 3 ? "_\r\n" : "*-1\r\n"); }

void ReplyBuilder::ArrayHeader(int64_t n) {
  DKV_ASSERT(n >= 0);
  out_->push_back('*');
  AppendInt(out_, n);
  out_->append("\r\n");
}

void ReplyBuilder::MapHeader(int64_t n) {
  DKV_ASSERT(n >= 0);
  out_->push_back(protocol_ >= 3 ? '%' : '*');
  AppendInt(out_, protocol_ >= 3 ? n : 2 * n);
  out_->append("\r\n");
}

void ReplyBuilder::SetHeader(int64_t n) {
  DKV_ASSERT(n >= 0);
  out_->push_back(protocol_ >= 3 ? '~' : '*');
  AppendInt(out_, n);
  out_->append("\r\n");
}

std::string ReplyBuilder::FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[64];
  int n = std::snprintf(buf, sizeof(buf), "%.17g", v);
  return std::string(buf, static_cast<size_t>(n));
}

void ReplyBuilder::Double(double v) {
  std::string text = FormatDouble(v);
  if (protocol_ >= 3) {
    out_->push_back(',');
    out_->append(text);
    out_->append("\r\n");
  } else {
    Bulk(text);
  }
}

void ReplyBuilder::Boolean(bool v) {
  if (protocol_ >= 3) {
    out_->append(v ? "#t\r\n" : "#f\r\n");
  } else {
    out_->append(v ? ":1\r\n" : ":0\r\n");
  }
}

void ReplyBuilder::Verbatim(std::string_view text) {
  if (protocol_ >= 3) {
    out_->push_back('=');
    AppendInt(out_, static_cast<int64_t>(text.size() + 4));
    out_->append("\r\ntxt:");
    out_->append(text);
    out_->append("\r\n");
  } else {
    Bulk(text);
  }
}

}  // namespace dkv::server

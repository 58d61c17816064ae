#include "raft/payload.h"

#include <cstring>
#include <new>
#include <ostream>

namespace dkv::raft {

Payload::Payload(std::string_view s) {
  if (s.empty()) return;  // the empty payload owns nothing
  void* mem = ::operator new(sizeof(Rep) + s.size());
  Rep* rep = new (mem) Rep{{1}, s.size()};
  std::memcpy(const_cast<char*>(rep->bytes()), s.data(), s.size());
  rep_ = rep;
}

void Payload::Free(Rep* rep) noexcept {
  rep->~Rep();
  ::operator delete(static_cast<void*>(rep));
}

std::ostream& operator<<(std::ostream& os, const Payload& p) { return os << p.view(); }

}  // namespace dkv::raft

// DBIter: the user's iterator. Turns the merged stream of internal entries
// (user key, sequence, type) into user keys and values as of one sequence
// number: hides entries newer than the read point, older versions shadowed by
// a newer one, and deleted keys. Moves both ways; honours an optional
// exclusive upper bound on user keys.
//
// Owned by the DB engineer. Used by one thread at a time; the internal
// iterator's cleanups keep the memtables and Version it reads alive.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "storage/dbformat.h"
#include "storage/iterator.h"

namespace dkv::storage {

// upper_bound: user keys >= it are not returned (nullopt: no bound).
std::unique_ptr<Iterator> NewDBIterator(const Comparator* user_comparator,
                                        std::unique_ptr<Iterator> internal_iter,
                                        SequenceNumber sequence,
                                        std::optional<std::string> upper_bound);

}  // namespace dkv::storage

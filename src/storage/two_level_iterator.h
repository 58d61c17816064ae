// TwoLevelIterator: iterates over the entries of many blocks through an index
// iterator whose values locate the blocks (an SSTable: index block -> data
// blocks; also usable for a level of files: file list -> tables). Forward and
// backward; empty blocks are skipped; the first error from either level stops
// iteration and is returned by status(). Used by one thread at a time; owns
// both levels' iterators.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "storage/iterator.h"
#include "storage/options.h"

namespace dkv::storage {

// Opens the second-level iterator for one index value (e.g. an encoded
// BlockHandle). Must not return nullptr; errors go in the iterator's status.
using BlockFunction = std::function<std::unique_ptr<Iterator>(std::string_view index_value)>;

std::unique_ptr<Iterator> NewTwoLevelIterator(std::unique_ptr<Iterator> index_iter,
                                              BlockFunction block_function);

}  // namespace dkv::storage

// MergingIterator: one sorted view (forward and backward) over several sorted
// child iterators, e.g. the memtables and table files a DB read must consult.
//
// It owns its children. Keys equal across children are all yielded (children
// first-to-last for equal keys when moving forward); with internal keys that
// never happens because sequence numbers are unique. The cursor picks the
// smallest (forward) or largest (backward) child by a linear scan, which beats
// a heap for the handful of children a read has. Like every Iterator it is used
// by one thread at a time.
#pragma once

#include <memory>
#include <vector>

#include "storage/comparator.h"
#include "storage/iterator.h"

namespace dkv::storage {

// cmp is not owned and must outlive the iterator. With no children the result
// is empty; with one it is that child itself.
std::unique_ptr<Iterator> NewMergingIterator(const Comparator* cmp,
                                             std::vector<std::unique_ptr<Iterator>> children);

}  // namespace dkv::storage

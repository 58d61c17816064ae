// LevelIterator: one sorted view over the non-overlapping, ordered files of a
// level >= 1, opening each table only when the cursor reaches it.
//
// The caller keeps the files alive (holds a reference to their Version) for
// the iterator's life. Owned by the DB engineer. One thread at a time.
#pragma once

#include <memory>
#include <vector>

#include "storage/dbformat.h"
#include "storage/iterator.h"
#include "storage/table_cache.h"
#include "storage/version_edit.h"

namespace dkv::storage {

// files: sorted by smallest key, non-overlapping. A read error in any file
// stops the iterator (Valid() false, status() says which file).
std::unique_ptr<Iterator> NewLevelIterator(TableCache* cache, const ReadOptions& options,
                                           const InternalKeyComparator* icmp,
                                           std::vector<FileMetaData*> files);

// Index of the first file whose largest key is >= internal_key (files.size()
// if none). files sorted and non-overlapping.
size_t FindFile(const InternalKeyComparator& icmp, const std::vector<FileMetaData*>& files,
                std::string_view internal_key);

}  // namespace dkv::storage

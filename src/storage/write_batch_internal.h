// WriteBatchInternal: the engine-side operations on a WriteBatch that users of
// the public API have no business with (applying it to a memtable, sizing it).
// Owned by the memtable engineer. Stateless functions; thread-safety is that of
// the batch and memtable passed in.
#pragma once

#include <cstddef>

#include "common/status.h"
#include "storage/write_batch.h"

namespace dkv::storage {

class MemTable;

struct WriteBatchInternal {
  // Adds every record of batch to mem, the i-th with sequence batch.Sequence()+i.
  // Corruption if the batch bytes are malformed; records before the bad one
  // have then been added (SetContents validates WAL bytes up front, so a batch
  // that came through it never fails here).
  // REQUIRES: external synchronisation against other writers of mem.
  static Status InsertInto(const WriteBatch& batch, MemTable* mem);
  // Bytes of the serialized batch (header included).
  static size_t ByteSize(const WriteBatch& batch);
};

}  // namespace dkv::storage

# Memtable component: arena, skiplist, memtable, write batch, merging iterator.
# Owned by the memtable engineer. Included from src/storage/CMakeLists.txt.
add_library(dkv_storage_memtable STATIC
  arena.cc
  memtable.cc
  merging_iterator.cc
  write_batch.cc
  write_batch_internal.cc
)
target_link_libraries(dkv_storage_memtable PUBLIC dkv_storage_base)

foreach(t skiplist memtable write_batch merging_iterator)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}_test.cc)
    dkv_add_test(storage_${t}_test SOURCES ${t}_test.cc
      LIBS dkv_storage_memtable Threads::Threads rapidcheck LABELS unit)
  endif()
endforeach()

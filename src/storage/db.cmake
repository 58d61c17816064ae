# The DB itself (owned by the DB engineer): versions, manifest, recovery,
# write path, compaction, iterators, snapshots, checkpoints. Included from
# src/storage/CMakeLists.txt. Guarded so configure works while the parts it
# sits on (wal, table, memtable) are still being written.
if(TARGET dkv_storage_wal AND TARGET dkv_storage_table AND TARGET dkv_storage_memtable)
  add_library(dkv_storage STATIC
    ${CMAKE_CURRENT_LIST_DIR}/checkpoint.cc
    ${CMAKE_CURRENT_LIST_DIR}/db_compaction.cc
    ${CMAKE_CURRENT_LIST_DIR}/db_impl.cc
    ${CMAKE_CURRENT_LIST_DIR}/db_iter.cc
    ${CMAKE_CURRENT_LIST_DIR}/filename.cc
    ${CMAKE_CURRENT_LIST_DIR}/level_iterator.cc
    ${CMAKE_CURRENT_LIST_DIR}/table_cache.cc
    ${CMAKE_CURRENT_LIST_DIR}/version_edit.cc
    ${CMAKE_CURRENT_LIST_DIR}/version_set.cc
  )
  target_link_libraries(dkv_storage PUBLIC
    dkv_storage_wal dkv_storage_table dkv_storage_memtable Threads::Threads)

  foreach(t version_edit version_set db db_model db_corruption)
    if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}_test.cc)
      dkv_add_test(storage_${t}_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}_test.cc
        LIBS dkv_storage LABELS unit)
    endif()
  endforeach()
endif()

# The write-ahead log format (owned by the storage-io engineer); the manifest
# uses it too. See docs/formats/wal.md.
add_library(dkv_storage_wal STATIC
  ${CMAKE_CURRENT_LIST_DIR}/wal_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/wal_reader.cc
)
target_link_libraries(dkv_storage_wal PUBLIC dkv_storage_env)

dkv_add_test(wal_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/wal_test.cc
  LIBS dkv_storage_wal
  LABELS unit)

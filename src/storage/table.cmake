# SSTables: block format, bloom filters, block cache, table builder and reader.
# Owned by the table engineer. Tests use in-memory files, except one that
# reads a table mapped by Env::Posix() in a temporary directory.
add_library(dkv_storage_table STATIC
  block.cc
  block_builder.cc
  bloom.cc
  cache.cc
  compression.cc
  filter_block.cc
  table.cc
  table_builder.cc
  table_format.cc
  two_level_iterator.cc
)
if(TARGET dkv_storage_env)
  target_link_libraries(dkv_storage_table PUBLIC dkv_storage_env)
else()
  target_link_libraries(dkv_storage_table PUBLIC dkv_storage_base)
endif()
target_link_libraries(dkv_storage_table PRIVATE PkgConfig::ZSTD PkgConfig::LZ4)

foreach(t block bloom cache table)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${t}_test.cc)
    dkv_add_test(storage_${t}_test SOURCES ${t}_test.cc LIBS dkv_storage_table LABELS unit)
  endif()
endforeach()

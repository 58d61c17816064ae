# Env implementations (owned by the storage-io engineer): the POSIX Env and
# the in-memory FaultInjectionEnv used by tests and the simulator.
add_library(dkv_storage_env STATIC
  ${CMAKE_CURRENT_LIST_DIR}/env.cc
  ${CMAKE_CURRENT_LIST_DIR}/env_posix.cc
  ${CMAKE_CURRENT_LIST_DIR}/fault_env.cc
)
target_link_libraries(dkv_storage_env PUBLIC dkv_storage_base)

# Guarded so that configure never breaks while a test file is being written.
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/env_test.cc)
dkv_add_test(env_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/env_test.cc
  LIBS dkv_storage_env
  LABELS unit)
endif()
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/fault_env_test.cc)
dkv_add_test(fault_env_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fault_env_test.cc
  LIBS dkv_storage_env
  LABELS unit)
endif()

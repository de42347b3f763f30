# test_distributed_netns: front, encoder+decoder node and denoiser node in three network
# namespaces joined by veth pairs (test_distributed_netns.sh). Registered only where this machine
# lets the test user create them (`unshare -rn` and `ip` must work: user + network namespaces, a
# veth pair); elsewhere it is left out here, at configure time, with the reason printed.
find_program(SDW_UNSHARE unshare)
find_program(SDW_IP ip PATHS /usr/sbin /sbin)
set(sdw_netns_ok FALSE)
if(SDW_UNSHARE AND SDW_IP)
  execute_process(COMMAND ${SDW_UNSHARE} -rn ${SDW_IP} link add sdwprobe0 type veth peer name sdwprobe1
                  RESULT_VARIABLE sdw_netns_rc OUTPUT_QUIET ERROR_VARIABLE sdw_netns_err TIMEOUT 20)
  if(sdw_netns_rc EQUAL 0)
    set(sdw_netns_ok TRUE)
  endif()
endif()
if(sdw_netns_ok AND TARGET sd-worker)
  add_test(NAME test_distributed_netns
           COMMAND ${SDW_UNSHARE} -rn ${CMAKE_CURRENT_LIST_DIR}/test_distributed_netns.sh $<TARGET_FILE:sd-worker>
                   ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/pipelines/tiny-sd15)
  set_tests_properties(test_distributed_netns PROPERTIES LABELS "e2e" TIMEOUT 300)
else()
  message(STATUS "test_distributed_netns not registered: no unprivileged network namespaces with veth here "
                 "(unshare: ${SDW_UNSHARE}, ip: ${SDW_IP}, ${sdw_netns_err})")
endif()

# Job configs (common/config/cfg.h) and run tracking (engine/track): the C
# API, then `kaizen runs list/compare/plot` on fabricated runs.
set(KZ_TRACK_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/track_tmp)
kz_add_c_test_exe(test_cfg test_cfg.c)
add_test(NAME config/job_cfg COMMAND test_cfg)
kz_add_c_test_exe(test_runs test_runs.c)
add_test(NAME track/run_api COMMAND test_runs api ${KZ_TRACK_TEST_TMP}/api)
add_test(NAME track/runs_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/runs_cli.sh $<TARGET_FILE:kaizen>
         $<TARGET_FILE:test_runs> ${KZ_TRACK_TEST_TMP}/cli)
# One metric vocabulary across model families: an MLP and a GBDT run on pima2
# in one plot and the same compare rows (skipped, 77, without ../shared/data).
get_filename_component(KZ_TRACK_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME track/families_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/families_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TRACK_SHARED_DATA} ${KZ_TRACK_TEST_TMP}/families)
set_tests_properties(track/families_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# Job configs (kernels/config/cfg.h) and run tracking (engine/track): the C
# API, then `kaizen runs list/compare/plot` on fabricated runs.
set(KZ_TRACK_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/track_tmp)
kz_add_c_test_exe(test_cfg test_cfg.c)
add_test(NAME config/job_cfg COMMAND test_cfg)
kz_add_c_test_exe(test_runs test_runs.c)
add_test(NAME track/run_api COMMAND test_runs api ${KZ_TRACK_TEST_TMP}/api)
add_test(NAME track/runs_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/runs_cli.sh $<TARGET_FILE:kaizen>
         $<TARGET_FILE:test_runs> ${KZ_TRACK_TEST_TMP}/cli)

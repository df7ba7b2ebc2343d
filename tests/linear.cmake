# The linear model (models/linear): predictions against a one-hot reference
# in double and its gradient block against finite differences (test_mlp, on
# the MLP's fixture rows), and `--device cuda` against the CPU run of the
# same jobs (skipped, 77, without a CUDA backend, a GPU or ../shared/data).
# Its CLI (determinism, kill -9 and resume, predict, eval) is train/cli's.
set(KZ_LINEAR_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/linear_tmp)
file(MAKE_DIRECTORY ${KZ_LINEAR_TEST_TMP})
get_filename_component(KZ_LINEAR_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME linear/model COMMAND test_mlp linear ${KZ_LINEAR_TEST_TMP}/model
                                   ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/mlp/mlp_parity.txt)
add_test(NAME linear/cuda_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/nn_cuda_cli.sh
                                      $<TARGET_FILE:kaizen> ${KZ_LINEAR_SHARED_DATA} linear)
set_tests_properties(linear/cuda_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

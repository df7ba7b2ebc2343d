# Tabular MLP (models/mlp): PyTorch parity from a committed fixture
# (tools/make_mlp_fixture.py), whole-model gradient check, determinism and
# save/load round trips, and a learning smoke test on breast_cancer.
set(KZ_MLP_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/mlp_tmp)
file(MAKE_DIRECTORY ${KZ_MLP_TEST_TMP})
get_filename_component(KZ_MLP_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
set(KZ_MLP_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/mlp/mlp_parity.txt)

kz_add_c_test_exe(test_mlp test_mlp.c)
foreach(t parity gradcheck model freeze)
  add_test(NAME mlp/${t} COMMAND test_mlp ${t} ${KZ_MLP_TEST_TMP}/${t} ${KZ_MLP_FIXTURE})
endforeach()
add_test(NAME mlp/learn COMMAND test_mlp learn ${KZ_MLP_TEST_TMP}/learn
         ${KZ_MLP_SHARED_DATA}/breast_cancer.csv)
set_tests_properties(mlp/learn PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})

# The MLP on --device cuda against the CPU run of the same jobs (skipped, 77,
# without a CUDA backend, a GPU or ../shared/data).
add_test(NAME mlp/cuda_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/nn_cuda_cli.sh $<TARGET_FILE:kaizen>
                                   ${KZ_MLP_SHARED_DATA} mlp)
set_tests_properties(mlp/cuda_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

# The GPU booster (models/gbdt/booster_gpu.h) against the CPU booster.
# gbdt/gpu_driver runs the GPU driver on the CPU with host emulations of the
# kernels, everywhere; gbdt/gpu_booster uses the real kernels on cuda:0 and
# exits 77 (skipped) without a GPU, after checking in a build without CUDA
# that the entry points fail with "built without CUDA".
kz_add_c_test_exe(test_gbdt_gpu ${CMAKE_CURRENT_SOURCE_DIR}/test_gbdt_gpu.c)
add_test(NAME gbdt/gpu_driver COMMAND test_gbdt_gpu emulated)
set_tests_properties(gbdt/gpu_driver PROPERTIES LABELS "gbdt")
add_test(NAME gbdt/gpu_booster COMMAND test_gbdt_gpu gpu)
set_tests_properties(gbdt/gpu_booster PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE}
                     LABELS "cuda;gbdt")

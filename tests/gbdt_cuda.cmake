# GPU kernels of the GBDT booster (kernels/gbdt_device.h) against host loops.
# Exits 77 (skipped) without a GPU; a build without CUDA first checks that the
# stubs in kernels/cuda_off/gbdt_off.c fail with "built without CUDA".
kz_add_c_test_exe(test_gbdt_cuda ${CMAKE_CURRENT_SOURCE_DIR}/test_gbdt_cuda.c)
add_test(NAME gbdt/cuda_kernels COMMAND test_gbdt_cuda)
set_tests_properties(gbdt/cuda_kernels PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE}
                     LABELS "cuda;gbdt")

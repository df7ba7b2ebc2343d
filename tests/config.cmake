# Kernel-config table and YAML loader (kernels/config).
kz_add_c_test_exe(test_kernel_config ${CMAKE_CURRENT_SOURCE_DIR}/test_kernel_config.c)
# The test loads the shipped configs/kernels/example.yaml from the source tree.
target_compile_definitions(test_kernel_config PRIVATE KZ_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
add_test(NAME config/kernel_config COMMAND test_kernel_config)

# Vectorised erf GELU (kernels/cpu/fast_math.h): accuracy against the double
# formula over [-12, 12]. `test_fast_math --bench` times it against the old
# glibc erfcf loops (bench/results/2026-11-23-cpu-gelu.txt); ctest does not.
kz_add_c_test_exe(test_fast_math ${CMAKE_CURRENT_SOURCE_DIR}/test_fast_math.c)
# The library is built with -fno-math-errno; the old loops in --bench match it.
target_compile_options(test_fast_math PRIVATE -fno-math-errno)
add_test(NAME cpu/gelu_fast_math COMMAND test_fast_math)
set_tests_properties(cpu/gelu_fast_math PROPERTIES LABELS "ops")

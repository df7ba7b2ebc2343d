# The fused attention op beyond the op harness (its parity and gradient
# cases run as op/cpu/attention*, grad/attention): the bench helper, and a
# check that the unfused baseline it times computes the same thing.
kz_add_c_test_exe(bench_attention ${CMAKE_SOURCE_DIR}/bench/bench_attention.c)
add_test(NAME attention/bench_baseline_agrees COMMAND bench_attention check)
kz_add_c_test_exe(test_attn_dropout test_attn_dropout.c)
add_test(NAME attention/dropout_mask COMMAND test_attn_dropout)
target_include_directories(bench_attention PRIVATE ${KZ_CBLAS_INCLUDE})
kz_add_c_test_exe(test_attention_args test_attention_args.c)
add_test(NAME attention/wrapper_checks COMMAND test_attention_args)

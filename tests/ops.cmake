# Op parity, gradient checks and the harness self-test (docs/TESTING.md).
#
# KZ_OP_NAMES must equal the harness registry (kernels/harness/op_registry.c);
# op/list_matches fails when they drift, so no op goes silently untested.
set(KZ_OP_NAMES
  matmul bias_add bias_add_bwd add gelu gelu_bwd layernorm layernorm_bwd softmax softmax_bwd
  cross_entropy cross_entropy_bwd embedding embedding_bwd adamw cast_f32_to_bf16
  cast_bf16_to_f32)
# Ops with a backward pass, checked against finite differences on ref.
set(KZ_GRAD_OPS matmul bias_add gelu layernorm softmax cross_entropy embedding)

kz_add_c_test_exe(test_ops ${CMAKE_CURRENT_SOURCE_DIR}/test_ops.c)
kz_add_c_test_exe(test_grad ${CMAKE_CURRENT_SOURCE_DIR}/test_grad.c)
kz_add_c_test_exe(test_harness_selftest ${CMAKE_CURRENT_SOURCE_DIR}/test_harness_selftest.c)

foreach(op ${KZ_OP_NAMES})
  add_test(NAME op/cpu/${op} COMMAND test_ops --device cpu --op ${op})
  # Without a GPU (or without a CUDA build) the driver exits 77: a skip.
  add_test(NAME op/cuda/${op} COMMAND test_ops --device cuda --op ${op})
  set_tests_properties(op/cpu/${op} op/cuda/${op} PROPERTIES
    SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} LABELS "ops")
endforeach()
string(REPLACE ";" "," kz_op_names_arg "${KZ_OP_NAMES}")
add_test(NAME op/list_matches COMMAND test_ops --check-list "${kz_op_names_arg}")

foreach(op ${KZ_GRAD_OPS})
  add_test(NAME grad/${op} COMMAND test_grad --op ${op})
  set_tests_properties(grad/${op} PROPERTIES LABELS "ops")
endforeach()
string(REPLACE ";" "," kz_grad_ops_arg "${KZ_GRAD_OPS}")
add_test(NAME grad/list_matches COMMAND test_grad --check-list "${kz_grad_ops_arg}")

add_test(NAME harness/selftest COMMAND test_harness_selftest)

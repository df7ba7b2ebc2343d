# Core layer: errors, tensors, bf16, arena, device list, streams, op validation.
kz_add_c_test_exe(test_core test_core.c)
add_test(NAME core/tensor_arena_devices COMMAND test_core)

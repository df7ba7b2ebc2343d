# The inference server (docs/SERVING.md). serve/unit: the in-process C API
# against models the real CLI trains on a generated table (answers equal
# `kaizen predict`, async path, dynamic batching, queue-full rejection,
# timeouts, unload under load, metadata, metrics).
set(KZ_SERVE_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/serve_tmp)
kz_add_c_test_exe(test_serve test_serve.c)
add_test(NAME serve/unit COMMAND test_serve $<TARGET_FILE:kaizen> ${KZ_SERVE_TEST_TMP})
set_tests_properties(serve/unit PROPERTIES TIMEOUT 300)

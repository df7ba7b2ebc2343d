# The inference server (docs/SERVING.md). serve/unit: the in-process C API
# against models the real CLI trains on a generated table (answers equal
# `kaizen predict`, async path, dynamic batching, queue-full rejection,
# timeouts, unload under load, metadata, metrics).
set(KZ_SERVE_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/serve_tmp)
kz_add_c_test_exe(test_serve test_serve.c)
add_test(NAME serve/unit COMMAND test_serve $<TARGET_FILE:kaizen> ${KZ_SERVE_TEST_TMP})
set_tests_properties(serve/unit PROPERTIES TIMEOUT 300)

# serve/http: `kaizen serve` in separate processes on free loopback ports,
# real HTTP from python3's urllib and curl (tests/serve_http.sh says what it
# covers); skipped (77) without ../shared/data or /usr/bin/python3.
get_filename_component(KZ_SERVE_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME serve/http
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/serve_http.sh $<TARGET_FILE:kaizen>
                 ${KZ_SERVE_SHARED_DATA} ${CMAKE_CURRENT_BINARY_DIR}/serve_http_tmp)
set_tests_properties(serve/http PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
add_test(NAME serve/help COMMAND kaizen serve --help)
set_tests_properties(serve/help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen serve --model")

# The embedding example of docs/SERVING.md, built against the library and
# run on the GBDT serve/unit trains: a sync and an async answer, then HTTP on
# a free port.
kz_add_c_test_exe(embed_server ${CMAKE_SOURCE_DIR}/examples/embed_server.c)
set_tests_properties(serve/unit PROPERTIES FIXTURES_SETUP serve_models)
add_test(NAME serve/embed_example
         COMMAND embed_server ${KZ_SERVE_TEST_TMP}/serve_unit/runs/e/gbdt/model.json
                 x1=1.5 x2=0.5 color=red)
set_tests_properties(serve/embed_example PROPERTIES FIXTURES_REQUIRED serve_models
  PASS_REGULAR_EXPRESSION "sync y [0-9.e+-]+\nasync y [0-9.e+-]+\nhttp port [1-9][0-9]*\n")

# The load generator of bench/serve_bench.sh (not a test).
kz_add_c_test_exe(serve_load ${CMAKE_SOURCE_DIR}/bench/serve_load.c)

# serve/tft: a TFT served (tests/serve_tft.sh says what it covers): small
# models trained by the CLI, `kaizen predict` to CSV, the same series' history
# through `kaizen serve` over loopback HTTP and through the in-process API
# (test_serve_tft); skipped (77) without ../shared/data/txhousing.csv.
kz_add_c_test_exe(test_serve_tft test_serve_tft.c)
add_test(NAME serve/tft
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/serve_tft.sh $<TARGET_FILE:kaizen>
                 ${KZ_SERVE_SHARED_DATA} ${CMAKE_CURRENT_BINARY_DIR}/serve_tft_tmp
                 $<TARGET_FILE:test_serve_tft>)
set_tests_properties(serve/tft PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# Data layer: shard writer/reader (round trip, ranks, shuffling, prefetch, bad
# files), CSV import round trips on the real data sets in ../shared/data, bad
# CSV input, and the `kaizen data` CLI end to end.
set(KZ_DATA_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/data_tmp)
file(MAKE_DIRECTORY ${KZ_DATA_TEST_TMP})
get_filename_component(KZ_SHARED_DATA_DIR ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)

kz_add_c_test_exe(test_shard test_shard.c)
add_test(NAME data/shard COMMAND test_shard ${KZ_DATA_TEST_TMP}/shard)

kz_add_c_test_exe(test_import test_import.c)
target_compile_definitions(test_import PRIVATE KZ_SHARED_DATA="${KZ_SHARED_DATA_DIR}"
  KZ_WORDPIECE_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece")
foreach(set diamonds pima2 txhousing austen)
  add_test(NAME data/roundtrip_${set} COMMAND test_import roundtrip ${set} ${KZ_DATA_TEST_TMP})
  set_tests_properties(data/roundtrip_${set} PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})
endforeach()
add_test(NAME data/import_bad COMMAND test_import bad ${KZ_DATA_TEST_TMP})
add_test(NAME data/import_lines COMMAND test_import lines ${KZ_DATA_TEST_TMP})

add_test(NAME data/cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/data_cli.sh $<TARGET_FILE:kaizen>
         ${KZ_SHARED_DATA_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt $<TARGET_FILE:test_shard>)
set_tests_properties(data/cli PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})

# Not a test: the helper of bench/data_io.sh, built with the tests.
kz_add_c_test_exe(bench_data_io ${CMAKE_SOURCE_DIR}/bench/bench_data_io.c)

# NER token labels and QA answer spans (tests/fixtures/text_labels; expected_hf.txt from
# tools/make_text_labels_fixture.py).
kz_add_c_test_exe(test_import_labels test_import_labels.c)
foreach(mode ner qa hf bad)
  add_test(NAME data/import_labels_${mode} COMMAND test_import_labels ${mode}
           ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/text_labels
           ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_minilm.txt ${KZ_DATA_TEST_TMP}/labels_${mode})
  set_tests_properties(data/import_labels_${mode} PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})
endforeach()

# The time column's ISO 8601 parser, display and step counter; dates and datetimes end to end.
kz_add_c_test_exe(test_timeparse test_timeparse.c)
add_test(NAME data/timeparse COMMAND test_timeparse)
add_test(NAME data/timestamps_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/timestamps_cli.sh $<TARGET_FILE:kaizen>)

# Rows by column name onto a model's layout (data/map) and kz_predictor_* on a
# hand-built GBDT: unseen categories, missing columns, remapped dictionaries.
kz_add_c_test_exe(test_input_map test_input_map.c)
add_test(NAME data/input_map COMMAND test_input_map ${KZ_DATA_TEST_TMP})

# Import onto a full 1 MiB tmpfs (issue 14): exit 1, a message, nothing left,
# no crash at exit. Mounting needs root; elsewhere the test reports a skip.
add_test(NAME data/import_disk_full COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/import_disk_full.sh
                                            $<TARGET_FILE:kaizen>)
set_tests_properties(data/import_disk_full PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 120
                     ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_CURRENT_SOURCE_DIR}/lsan_hdf5_disk_full.supp")

# Text layer: WordPiece parity with Hugging Face (fixtures written by
# tools/make_wordpiece_fixture.py), malformed vocabularies, the vocabulary
# trainer and `kaizen data vocab`.
kz_add_c_test_exe(test_wordpiece test_wordpiece.c)
target_compile_definitions(test_wordpiece PRIVATE
  KZ_WORDPIECE_FIXTURES="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece")
set(KZ_TEXT_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/text_tmp)
file(MAKE_DIRECTORY ${KZ_TEXT_TEST_TMP})
add_test(NAME text/wordpiece_parity_minilm
         COMMAND test_wordpiece parity vocab_minilm.txt expected_minilm.txt 1)
add_test(NAME text/wordpiece_parity_cased
         COMMAND test_wordpiece parity vocab_austen_cased.txt expected_austen_cased.txt 0)
add_test(NAME text/wordpiece_errors COMMAND test_wordpiece errors ${KZ_TEXT_TEST_TMP})
# SHA-256 (FIPS 180-4 vectors) and the vocabulary hash (the sha256sum of the file)
add_test(NAME text/vocab_sha256 COMMAND test_wordpiece sha256)
add_test(NAME text/vocab_train COMMAND test_wordpiece train ${KZ_TEXT_TEST_TMP})
if(TARGET kaizen)
  add_test(NAME text/vocab_cli COMMAND test_wordpiece cli $<TARGET_FILE:kaizen> ${KZ_TEXT_TEST_TMP})
  set_tests_properties(text/vocab_cli PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})
endif()

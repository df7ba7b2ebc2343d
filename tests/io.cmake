# Weight formats (models/io/): safetensors reader and writer, Hugging Face
# BERT directories (config.json, names, load / export), and the real
# all-MiniLM-L6-v2 checkpoint when it is installed (skipped otherwise).
kz_add_c_test_exe(test_safetensors test_safetensors.c)
set(KZ_IO_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/io_tmp)
add_test(NAME io/safetensors COMMAND test_safetensors io ${KZ_IO_TEST_TMP}/st)

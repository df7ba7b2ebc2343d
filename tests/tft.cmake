# Temporal Fusion Transformer (models/tft): the network against the float64
# PyTorch reference of tools/make_tft_fixture.py (committed fixture).
set(KZ_TFT_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tft/tft_parity.txt)

kz_add_c_test_exe(test_tft test_tft.c)
add_test(NAME tft/parity COMMAND test_tft parity ${KZ_TFT_FIXTURE})
add_test(NAME tft/dropout COMMAND test_tft dropout ${KZ_TFT_FIXTURE})
add_test(NAME tft/calendar COMMAND test_tft calendar)

# train / eval / predict through the binary on txhousing and taylor
get_filename_component(KZ_TFT_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME tft/cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tft_cli.sh $<TARGET_FILE:kaizen>
                              ${KZ_TFT_SHARED_DATA})
set_tests_properties(tft/cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 1200)

# LoRA adapters on the TFT: B zero is the base, adapter gradients against
# central differences, merged vs unmerged (tests/test_tft_lora.c)
kz_add_c_test_exe(test_tft_lora test_tft_lora.c)
add_test(NAME tft/lora COMMAND test_tft_lora)

# LoRA on the TFT through the binary: base, LoRA run, predict/eval --adapter,
# the wrong base refused (tests/tft_lora_cli.sh)
add_test(NAME tft/lora_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tft_lora_cli.sh $<TARGET_FILE:kaizen>
                                   ${KZ_TFT_SHARED_DATA})
set_tests_properties(tft/lora_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# continuing a TFT: train.init_from, replay of old windows, EWC, the forgetting numbers, kill -9
# and --resume (generated series; no shared data)
add_test(NAME tft/continual_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tft_continual_cli.sh
                                        $<TARGET_FILE:kaizen>)
set_tests_properties(tft/continual_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)

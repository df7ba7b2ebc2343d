# Temporal Fusion Transformer (models/tft): the network against the float64
# PyTorch reference of tools/make_tft_fixture.py (committed fixture).
set(KZ_TFT_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/tft/tft_parity.txt)

kz_add_c_test_exe(test_tft test_tft.c)
add_test(NAME tft/parity COMMAND test_tft parity ${KZ_TFT_FIXTURE})

# Model files keep every float and double bit for bit: shortest float text
# (models/float_text.c), GBDT JSON for every objective, .kzm meta of the MLP and
# the linear model; random models with extreme values, predictions compared too.
kz_add_c_test_exe(test_model_floats ${CMAKE_CURRENT_SOURCE_DIR}/test_model_floats.c)
add_test(NAME model_floats COMMAND test_model_floats)

# Model files keep every float and double bit for bit: shortest float text
# (models/float_text.c), GBDT JSON for every objective, .kzm meta of the MLP and
# the linear model; random models with extreme values, predictions compared too.
kz_add_c_test_exe(test_model_floats ${CMAKE_CURRENT_SOURCE_DIR}/test_model_floats.c)
add_test(NAME model_floats COMMAND test_model_floats)

# CSV with NaN, empty cells and inf / -inf / Infinity -> import -> GBDT (regression, binary,
# multiclass) and MLP train -> eval (same metric as training) and predict in new processes.
add_test(NAME model_floats_cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/model_floats_cli.sh
                                       $<TARGET_FILE:kaizen>)

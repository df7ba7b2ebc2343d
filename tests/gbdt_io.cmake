# GBDT model file, XGBoost export, importance and TreeSHAP (models/gbdt/gbdt_{json,xgb_export,
# importance,shap}.c, tools/kaizen/cmd_gbdt.c).
kz_add_c_test_exe(test_gbdt_io ${CMAKE_CURRENT_SOURCE_DIR}/test_gbdt_io.c)
add_test(NAME gbdt_io COMMAND test_gbdt_io)

# Loads kaizen's XGBoost export into xgboost (Debian python3-xgboost) and compares margins,
# SHAP values and importance; skipped (77) only when `import xgboost` fails.
add_test(NAME gbdt_xgb_export
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/gbdt_xgb_export_check.py
                 $<TARGET_FILE:test_gbdt_io> $<TARGET_FILE:kaizen>)
set_tests_properties(gbdt_xgb_export PROPERTIES SKIP_RETURN_CODE 77)

# CLI usage and input errors: each must exit non-zero with a message matching the pattern.
function(kz_gbdt_cli_fails name pattern)
  add_test(NAME ${name}
           COMMAND sh -c "out=$(\"$0\" \"$@\" 2>&1); rc=$?; echo \"$out\"; [ $rc -ne 0 ] && printf '%s' \"$out\" | grep -q -- \"$KZ_PATTERN\""
                   $<TARGET_FILE:kaizen> ${ARGN})
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "KZ_PATTERN=${pattern}")
endfunction()
kz_gbdt_cli_fails(gbdt_cli_missing_model "no_such_model.json: cannot open"
                  gbdt importance --model ${CMAKE_CURRENT_BINARY_DIR}/no_such_model.json)
kz_gbdt_cli_fails(gbdt_cli_bad_subcommand "unknown subcommand 'frobnicate'" gbdt frobnicate)
kz_gbdt_cli_fails(gbdt_cli_bad_format "needs --format xgboost-json"
                  gbdt export --model m.json --format onnx --out x.onnx)
kz_gbdt_cli_fails(gbdt_cli_bad_type "--type must be weight" gbdt importance --model m.json --type split)
kz_gbdt_cli_fails(gbdt_cli_shap_needs_data "shap needs --data" gbdt shap --model m.json --out x.csv)

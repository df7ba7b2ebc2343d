# GBDT booster (docs/GBDT.md): unit tests (binning, split gain, histogram
# subtraction, determinism, objectives, growth limits, bad configs), the job
# end to end on pima2, and parity with XGBoost's hist booster on the same
# train/valid split (skipped, exit 77, only when python3-xgboost is missing).
set(KZ_GBDT_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/gbdt_tmp)
file(MAKE_DIRECTORY ${KZ_GBDT_TEST_TMP})
get_filename_component(KZ_GBDT_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)

kz_add_c_test_exe(test_gbdt test_gbdt.c)
add_test(NAME gbdt/unit COMMAND test_gbdt unit)

# Data sets imported once with a fixed 80/20 split.
foreach(spec "pima2:diabetes:categorical" "breast_cancer:target:categorical"
             "diamonds:price:numeric")
  string(REPLACE ":" ";" parts ${spec})
  list(GET parts 0 set)
  list(GET parts 1 label)
  list(GET parts 2 ltype)
  add_test(NAME gbdt/import_${set}
           COMMAND kaizen data import --kind tabular --input ${KZ_GBDT_SHARED_DATA}/${set}.csv
                   --out ${KZ_GBDT_TEST_TMP}/${set} --label ${label} --label-type ${ltype}
                   --valid-fraction 0.2 --seed 1 --overwrite)
  set_tests_properties(gbdt/import_${set} PROPERTIES FIXTURES_SETUP gbdt_${set})
endforeach()

add_test(NAME gbdt/job COMMAND ${CMAKE_COMMAND} -E env
         sh -c "rm -rf ${KZ_GBDT_TEST_TMP}/runs && mkdir -p ${KZ_GBDT_TEST_TMP}/runs && $<TARGET_FILE:test_gbdt> job ${KZ_GBDT_TEST_TMP}/runs ${KZ_GBDT_TEST_TMP}/pima2")
set_tests_properties(gbdt/job PROPERTIES FIXTURES_REQUIRED gbdt_pima2)

foreach(spec "pima2:binary:logistic:auc" "breast_cancer:binary:logistic:auc"
             "diamonds:reg:squarederror:rmse")
  string(REPLACE ":" ";" parts ${spec})
  list(GET parts 0 set)
  list(GET parts 3 metric)
  list(GET parts 1 o1)
  list(GET parts 2 o2)
  add_test(NAME gbdt/xgb_parity_${set}
           COMMAND test_gbdt parity ${KZ_GBDT_TEST_TMP}/${set} ${o1}:${o2} ${metric}
                   ${CMAKE_SOURCE_DIR}/tools/gbdt_xgb_reference.py)
  set_tests_properties(gbdt/xgb_parity_${set} PROPERTIES FIXTURES_REQUIRED gbdt_${set}
                       SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} TIMEOUT 300)
endforeach()

# The helper of bench/gbdt_vs_xgboost.sh, built with the tests.
kz_add_c_test_exe(bench_gbdt ${CMAKE_SOURCE_DIR}/bench/bench_gbdt.c)
# Its histogram microbenchmark fails when the two paths' sums differ in a bit.
add_test(NAME gbdt/bench_hist_same_sums COMMAND bench_gbdt hist 20000 28 0.02 0.3 3)
set_tests_properties(gbdt/bench_hist_same_sums PROPERTIES
  PASS_REGULAR_EXPRESSION "\"same_sums\": true" LABELS bench)
# Its tree-growth microbenchmark fails when the three ways grow different trees.
add_test(NAME gbdt/bench_grow_same_trees COMMAND bench_gbdt grow 20000 8 0.02 6 2 1)
set_tests_properties(gbdt/bench_grow_same_trees PROPERTIES
  PASS_REGULAR_EXPRESSION "\"same_trees\": true" LABELS bench)

# Round checkpoints and --resume: a 3-class job with sampling and a binary one
# with early stopping, each killed with kill -9 after its second checkpoint
# and resumed, end with model.json byte-identical to an uninterrupted run's and
# the same metrics.csv rows and summary; a truncated checkpoint is skipped by
# name; a finished run, a run without a checkpoint and a changed config are
# refused (tests/gbdt_resume.sh; a generated CSV, no shared data needed).
add_test(NAME gbdt/resume COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gbdt_resume.sh $<TARGET_FILE:kaizen>)
set_tests_properties(gbdt/resume PROPERTIES TIMEOUT 300)

# Continuation (train.init_from) and the refresh updater (process_type: update)
# through the CLI: M + N rounds in two runs equal M + N in one (model.json
# byte for byte, regression with categorical and missing values, 3 classes),
# a continuation killed with kill -9 and resumed equals an uninterrupted one,
# refresh on the training data keeps the leaves, on shifted labels improves
# the metric, and bad inputs fail before a run directory exists
# (tests/gbdt_continue.sh). Against XGBoost 1.7 (skipped, 77, without it):
# xgb.train(xgb_model=...) adds the same trees, its refresh updater gives the
# same leaves (tests/gbdt_continue_xgb_check.py).
add_test(NAME gbdt/continue COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gbdt_continue.sh $<TARGET_FILE:kaizen>)
set_tests_properties(gbdt/continue PROPERTIES TIMEOUT 300)
add_test(NAME gbdt/continue_xgb
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/gbdt_continue_xgb_check.py
                 $<TARGET_FILE:kaizen>)
set_tests_properties(gbdt/continue_xgb PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

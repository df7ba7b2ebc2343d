# The neural trainer (engine/train): schedules, clipping, optimizers, the
# .kzm / .kzc files (unit tests), and `kaizen train/predict/eval` end to end
# with the linear model (determinism, kill -9 + resume, truncated checkpoint,
# bad configs, NaN guard, predict/eval).
kz_add_c_test_exe(test_trainer test_trainer.c)
add_test(NAME train/unit COMMAND test_trainer ${CMAKE_CURRENT_BINARY_DIR})
get_filename_component(KZ_TRAIN_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME train/cli COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/train_cli.sh $<TARGET_FILE:kaizen>
         ${KZ_TRAIN_SHARED_DATA})
# The linear model runs on the CPU ops, whose row-wise ones (cross_entropy)
# fork OpenMP threads even for its 16-row batches: on a machine shared by
# many jobs, idle threads spinning after each fork starve the main thread
# (minutes instead of seconds), so they sleep at once here. The results do
# not depend on it (the ops are deterministic for any thread count).
set_tests_properties(train/cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                                          ENVIRONMENT OMP_WAIT_POLICY=passive)
add_test(NAME train/help COMMAND kaizen train --help)
set_tests_properties(train/help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen train JOB.yaml.*--resume")
add_test(NAME train/predict_help COMMAND kaizen predict --help)
set_tests_properties(train/predict_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen predict --model")
add_test(NAME train/eval_help COMMAND kaizen eval --help)
set_tests_properties(train/eval_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen eval --model")

# Issue 13: models meet new data. Every family trained on the first 40,000
# diamonds scores a raw CSV of later ones bit-identically to its imported
# shards; dictionaries that differ are mapped by string; a GBDT per shared set
# reloads and evaluates to its training metric (skipped, 77, without
# ../shared/data).
get_filename_component(KZ_NEW_DATA_SHARED ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME train/new_data_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/new_data_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_NEW_DATA_SHARED})
set_tests_properties(train/new_data_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# Trainable ranges: model.freeze_layers keeps the MLP's first layer
# bit-identical through training, checkpoints hold optimizer state for the
# trainable floats only, and --resume stays bit-identical (skipped, 77,
# without ../shared/data or python3).
add_test(NAME train/freeze_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/freeze_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TRAIN_SHARED_DATA})
set_tests_properties(train/freeze_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)

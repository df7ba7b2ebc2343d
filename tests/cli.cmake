# The CLI's front door: help texts, info, and clear errors for bad options.
add_test(NAME cli/help COMMAND kaizen --help)
set_tests_properties(cli/help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen <command>.*info.*kernels")
add_test(NAME cli/info_help COMMAND kaizen info --help)
set_tests_properties(cli/info_help PROPERTIES PASS_REGULAR_EXPRESSION "usage: kaizen info.*--device")
add_test(NAME cli/info COMMAND kaizen info)
set_tests_properties(cli/info PROPERTIES
  PASS_REGULAR_EXPRESSION "kaizen [0-9]+\\.[0-9]+\\.[0-9]+ \\(git [0-9a-f]+.*blas: +OpenBLAS.*devices.*cpu .*kernel target cpu.*kernel config \\(source: built-in\\).*cpu:.*matmul:")
add_test(NAME cli/unknown_command COMMAND kaizen frobnicate)
set_tests_properties(cli/unknown_command PROPERTIES WILL_FAIL TRUE)
# Bad options must fail with a message naming what was wrong (checked by a script
# so both the exit code and the text are asserted).
add_test(NAME cli/bad_options COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cli_bad_options.sh $<TARGET_FILE:kaizen>)
# The bench runs end to end and prints its comparison with OpenBLAS (a smoke
# test: the ratio is measured and recorded in bench/results, never asserted
# here, where timing on a shared CI machine would make the test flaky).
add_test(NAME cli/kernels_bench_matmul COMMAND kaizen kernels bench --device cpu --op matmul --repeat 1)
set_tests_properties(cli/kernels_bench_matmul PROPERTIES
  PASS_REGULAR_EXPRESSION "OpenBLAS +ratio.*headline: kaizen matmul / OpenBLAS sgemm = [0-9.]+"
  FAIL_REGULAR_EXPRESSION " (10[1-9]|1[1-9][0-9]|[2-9][0-9][0-9]|[0-9][0-9][0-9][0-9]+)%"
  LABELS bench)

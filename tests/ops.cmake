# Op parity, gradient checks and the harness self-test (docs/TESTING.md).
#
# The op and gradient lists come from kernels/op_list.h, read here at
# configure time (CONFIGURE_DEPENDS re-runs CMake when it changes): each
# `X(name, slot, grad,` row is one op, each `U(name, param, value, grad,` row
# two (name and name_bwd); a grad column of KZ_YES puts the op in the
# gradient list. op/list_matches still compares the result with the compiled
# registry, so a row this regex misreads fails loudly.
set(kz_op_list_file ${CMAKE_SOURCE_DIR}/kernels/op_list.h)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${kz_op_list_file})
# file(READ) + MATCHALL rather than file(STRINGS): the rows end in a
# backslash, which would escape CMake's list separator.
file(READ ${kz_op_list_file} kz_op_list_text)
string(REGEX MATCHALL "\n +[XU]\\([a-z0-9_]+, *[a-z0-9_]+, *[A-Za-z0-9_.+-]+(, *[A-Z_]+)?"
       kz_op_rows "${kz_op_list_text}")
set(KZ_OP_NAMES)
set(KZ_GRAD_OPS)
foreach(row ${kz_op_rows})
  if(row MATCHES "X\\(([a-z0-9_]+), *[a-z0-9_]+, *([A-Z_]+)")
    list(APPEND KZ_OP_NAMES ${CMAKE_MATCH_1})
  elseif(row MATCHES "U\\(([a-z0-9_]+), *[a-z0-9_]+, *[-0-9.e]+f?, *([A-Z_]+)")
    list(APPEND KZ_OP_NAMES ${CMAKE_MATCH_1} ${CMAKE_MATCH_1}_bwd)
  else()
    message(FATAL_ERROR "tests/ops.cmake cannot read this op_list.h row: ${row}")
  endif()
  if(CMAKE_MATCH_2 STREQUAL "KZ_YES")
    list(APPEND KZ_GRAD_OPS ${CMAKE_MATCH_1})
  endif()
endforeach()

kz_add_c_test_exe(test_ops ${CMAKE_CURRENT_SOURCE_DIR}/test_ops.c)
kz_add_c_test_exe(test_grad ${CMAKE_CURRENT_SOURCE_DIR}/test_grad.c)
kz_add_c_test_exe(test_harness_selftest ${CMAKE_CURRENT_SOURCE_DIR}/test_harness_selftest.c)

foreach(op ${KZ_OP_NAMES})
  add_test(NAME op/cpu/${op} COMMAND test_ops --device cpu --op ${op})
  # Without a GPU (or without a CUDA build) the driver exits 77: a skip.
  add_test(NAME op/cuda/${op} COMMAND test_ops --device cuda --op ${op})
  set_tests_properties(op/cpu/${op} op/cuda/${op} PROPERTIES
    SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} LABELS "ops")
endforeach()
string(REPLACE ";" "," kz_op_names_arg "${KZ_OP_NAMES}")
add_test(NAME op/list_matches COMMAND test_ops --check-list "${kz_op_names_arg}")
# Every op has a reference (its parity cases), a CPU and a CUDA implementation
# and gradient cases, or the op list says why not.
add_test(NAME op/list_complete COMMAND test_ops --check-complete)
# NULL gradient outputs ("not wanted") are accepted by every backward.
add_test(NAME op/optional_outputs COMMAND test_ops --check-optional)
# A NaN logit reaches softmax's outputs on every backend, as it does ref's
# (the parity cases cannot check this: they fail any non-finite output).
add_test(NAME op/cpu/softmax_nan COMMAND test_ops --check-nan --device cpu)
add_test(NAME op/cuda/softmax_nan COMMAND test_ops --check-nan --device cuda)
set_tests_properties(op/cpu/softmax_nan op/cuda/softmax_nan PROPERTIES
  SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} LABELS "ops")

foreach(op ${KZ_GRAD_OPS})
  add_test(NAME grad/${op} COMMAND test_grad --op ${op})
  set_tests_properties(grad/${op} PROPERTIES LABELS "ops")
endforeach()
string(REPLACE ";" "," kz_grad_ops_arg "${KZ_GRAD_OPS}")
add_test(NAME grad/list_matches COMMAND test_grad --check-list "${kz_grad_ops_arg}")

add_test(NAME harness/selftest COMMAND test_harness_selftest)

# ewc_grad is itself a gradient (op_list.h): checked against finite
# differences of the EWC penalty it differentiates.
kz_add_c_test_exe(test_ewc ${CMAKE_CURRENT_SOURCE_DIR}/test_ewc.c)
add_test(NAME ewc/penalty_gradient COMMAND test_ewc)
set_tests_properties(ewc/penalty_gradient PROPERTIES LABELS "ops")

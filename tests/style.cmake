# The tree stays clang-formatted (.clang-format at the root). clang-format is a
# test dependency (tools/install-deps.sh --with-test), so its absence is an error,
# not a silently skipped check.
find_program(KZ_CLANG_FORMAT clang-format REQUIRED)
add_test(NAME style/clang_format
         COMMAND ${CMAKE_COMMAND} -E env CLANG_FORMAT=${KZ_CLANG_FORMAT}
                 ${CMAKE_CURRENT_SOURCE_DIR}/check_format.sh
         WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})

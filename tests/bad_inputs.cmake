# The bad-input regression suite (tests/bad_inputs/run.sh): one ctest per
# area directory, in the release and the ASan builds alike.
file(GLOB KZ_BAD_INPUT_AREAS LIST_DIRECTORIES true ${CMAKE_CURRENT_SOURCE_DIR}/bad_inputs/*)
if(KZ_SANITIZE)
  set(KZ_BAD_INPUT_ASAN 1)
else()
  set(KZ_BAD_INPUT_ASAN 0)
endif()
foreach(area ${KZ_BAD_INPUT_AREAS})
  if(IS_DIRECTORY ${area})
    get_filename_component(area_name ${area} NAME)
    add_test(NAME bad_inputs/${area_name}
             COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/bad_inputs/run.sh $<TARGET_FILE:kaizen> ${area}
                     ${KZ_BAD_INPUT_ASAN})
    set_tests_properties(bad_inputs/${area_name} PROPERTIES TIMEOUT 900)
  endif()
endforeach()

# Build checks of the CUDA backend: the library must embed real machine code
# for each architecture we ship (not only PTX), or a GPU of that generation
# would silently JIT every kernel at start-up or, without PTX, run none.
if(KZ_HAVE_CUDA)
  find_program(KZ_CUOBJDUMP cuobjdump HINTS ${CUDAToolkit_BIN_DIR} /usr/local/cuda/bin)
  set(kz_cuobjdump "${KZ_CUOBJDUMP}")
  if(NOT KZ_CUOBJDUMP)
    set(kz_cuobjdump "none") # the script reports a skip
  endif()
  foreach(arch 80 90)
    add_test(NAME cuda/elf_sm${arch}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cuda_elf_check.sh ${kz_cuobjdump}
                     $<TARGET_FILE:kaizen_static> sm_${arch})
    set_tests_properties(cuda/elf_sm${arch} PROPERTIES
                         SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} LABELS cuda)
  endforeach()
endif()

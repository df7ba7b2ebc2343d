# Build checks of the CUDA backend: the library must embed real machine code
# for each architecture we ship (not only PTX), or a GPU of that generation
# would silently JIT every kernel at start-up or, without PTX, run none.
if(KZ_HAVE_CUDA)
  # tools/install-deps.sh --with-test puts cuobjdump in .deps/ when the CUDA
  # install lacks it; without it the test fails rather than skips.
  find_program(KZ_CUOBJDUMP cuobjdump HINTS ${CUDAToolkit_BIN_DIR} /usr/local/cuda/bin
               ${CMAKE_SOURCE_DIR}/.deps/cuda-tools/bin)
  set(kz_cuobjdump "${KZ_CUOBJDUMP}")
  if(NOT KZ_CUOBJDUMP)
    set(kz_cuobjdump "none")
  endif()
  foreach(arch 80 90)
    add_test(NAME cuda/elf_sm${arch}
             COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/cuda_elf_check.sh ${kz_cuobjdump}
                     $<TARGET_FILE:kaizen_static> sm_${arch})
    set_tests_properties(cuda/elf_sm${arch} PROPERTIES LABELS cuda)
  endforeach()
endif()

# The script of the first GPU session (bench/gpu_first_run.sh) is checked on
# every machine: syntax, shellcheck, option errors, the clean "no GPU" stop.
add_test(NAME cuda/first_run_script
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/gpu_first_run_check.sh
                 ${CMAKE_SOURCE_DIR}/bench/gpu_first_run.sh)

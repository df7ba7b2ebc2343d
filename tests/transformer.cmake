# Transformer encoder (models/transformer): PyTorch/Hugging Face parity from a
# committed fixture (tools/make_transformer_fixture.py: logits, loss, every
# gradient and 10 AdamW steps for mlm and classification), and the model's
# own checks (meta round trip, determinism, bad inputs, copying by name).
set(KZ_TF_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/transformer)
kz_add_c_test_exe(test_transformer test_transformer.c)
foreach(t parity model)
  add_test(NAME transformer/${t} COMMAND test_transformer ${t} ${KZ_TF_FIXTURE})
  # many small ops: on a loaded machine spinning OpenMP workers cost far more
  # than the work (the results do not depend on it)
  set_tests_properties(transformer/${t} PROPERTIES ENVIRONMENT OMP_WAIT_POLICY=passive)
endforeach()

# The CLI end to end on a slice of ../shared/data/austen.csv (skipped, 77,
# without it): import, MLM pre-training with checkpoint resume, classification
# from the MLM model (train.init_from), eval and predict in their own processes.
get_filename_component(KZ_TF_SHARED_DATA ${CMAKE_SOURCE_DIR}/../shared/data ABSOLUTE)
add_test(NAME transformer/cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/transformer_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt)
set_tests_properties(transformer/cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

# kaizen embed with the real all-MiniLM-L6-v2 checkpoint against
# sentence-transformers' embeddings (tests/fixtures/minilm; cosine >= 0.9999
# per sentence). The checkpoint is looked for as io/minilm_checkpoint does
# (tests/io.cmake); skipped (77) without it.
if(TARGET kaizen)
  kz_add_c_test_exe(test_embed test_embed.c)
  target_compile_definitions(test_embed PRIVATE KZ_MINILM_DEFAULT_DIR="${_kz_minilm}")
  add_test(NAME transformer/embed_minilm
           COMMAND test_embed $<TARGET_FILE:kaizen> ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/minilm
                   ${CMAKE_CURRENT_BINARY_DIR}/embed_tmp)
  set_tests_properties(transformer/embed_minilm PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600
                       ENVIRONMENT OMP_WAIT_POLICY=passive)
endif()

# train.init_from a Hugging Face directory (all-MiniLM-L6-v2), its size and
# vocabulary errors, kaizen export read back by transformers (KZ_PYTHON_HF,
# tests/io.cmake), embed of a .kzm and of the export. Skipped (77) without the
# shared data or the checkpoint.
if(TARGET kaizen)
  add_test(NAME transformer/hf_init_export
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/transformer_hf.sh $<TARGET_FILE:kaizen>
                   ${KZ_TF_SHARED_DATA} ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_minilm.txt
                   ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt
                   "${_kz_minilm}" ${KZ_PYTHON_HF})
  set_tests_properties(transformer/hf_init_export PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)
endif()
# Entity-level (seqeval-style BIO chunks) and token-level F1 of token classification.
kz_add_c_test_exe(test_tf_metrics test_tf_metrics.c)
add_test(NAME transformer/metrics COMMAND test_tf_metrics)

# Entity/token F1 and QA exact match/span F1 through train and eval (skipped, 77,
# without ../shared/data/austen.csv).
add_test(NAME transformer/metrics_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/transformer_metrics_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(transformer/metrics_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
# bench/transformer_cpu.sh's helper: a tiny model through its training-step
# and memory modes (fails if a step fails).
kz_add_c_test_exe(bench_transformer ${CMAKE_SOURCE_DIR}/bench/bench_transformer.c)
target_include_directories(bench_transformer PRIVATE ${KZ_CBLAS_INCLUDE})
add_test(NAME transformer/bench_smoke COMMAND bench_transformer time 2 32 4 64 16 3 200 2)
add_test(NAME transformer/bench_mem_smoke COMMAND bench_transformer mem 2 32 4 64 16 3 200)

# Raw text in, answers out (tests/transformer_text_cli.sh says what it
# covers): the vocabulary through import, train, export and init_from;
# predict and eval on text for every task; kaizen serve with BYTES inputs and
# bad text requests. Skipped (77) without ../shared/data/austen.csv.
add_test(NAME transformer/text_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/transformer_text_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt
                 ${CMAKE_SOURCE_DIR} $<TARGET_FILE:test_serve>)
set_tests_properties(transformer/text_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 900)

# train.precision bf16 against fp32 on the parity fixture's tiny config: one
# step's loss/logits/gradients a bf16-sized distance away, 20 AdamW steps'
# loss curve within 2%, fp32 evaluation of bf16-trained weights, and the
# activation arena per layer at most half of fp32's. The cuda variant runs
# the same on cuda:0 and skips (77) without a GPU.
kz_add_c_test_exe(test_transformer_bf16 test_transformer_bf16.c)
foreach(d cpu cuda)
  add_test(NAME transformer/bf16_${d} COMMAND test_transformer_bf16 ${d} ${KZ_TF_FIXTURE})
  set_tests_properties(transformer/bf16_${d} PROPERTIES ENVIRONMENT OMP_WAIT_POLICY=passive
                       SKIP_RETURN_CODE 77)
endforeach()
set_tests_properties(transformer/bf16_cuda PROPERTIES LABELS cuda)
# ... and through the CLI: bf16 MLM pre-training near the fp32 run, bit-exact
# resume from a checkpoint, fp32 evaluation of the bf16-trained model file
# (skipped, 77, without ../shared/data/austen.csv).
add_test(NAME transformer/bf16_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/transformer_bf16_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt)
set_tests_properties(transformer/bf16_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
add_test(NAME transformer/bench_bf16_smoke COMMAND bench_transformer time 2 32 4 64 16 3 200 2 cpu bf16)
add_test(NAME transformer/bench_mem_bf16_smoke COMMAND bench_transformer mem 2 32 4 64 16 3 200 cpu bf16)
# Continual MLM training (train.continual): replay of the old data, EWC, the
# forgetting metric in the run's summary, exact resume, bad configs.
add_test(NAME train/continual_cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/continual_cli.sh $<TARGET_FILE:kaizen>
                 ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt)
set_tests_properties(train/continual_cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
# LoRA adapters (models/transformer/tf_lora.c) against PyTorch + PEFT
# (tools/make_lora_fixture.py; the base weights are the transformer
# fixture's): outputs and gradients, frozen tensors, merge and unmerge.
set(KZ_LORA_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/lora)
kz_add_c_test_exe(test_lora test_lora.c)
add_test(NAME lora/parity COMMAND test_lora parity ${KZ_TF_FIXTURE} ${KZ_LORA_FIXTURE})
set_tests_properties(lora/parity PROPERTIES ENVIRONMENT OMP_WAIT_POLICY=passive)
# PEFT's layout: a PEFT-saved adapter (committed) loads and gives PEFT's
# logits, kaizen's export loads back identically, another base is refused.
set(KZ_LORA_TEST_TMP ${CMAKE_CURRENT_BINARY_DIR}/lora_tmp)
file(MAKE_DIRECTORY ${KZ_LORA_TEST_TMP})
add_test(NAME lora/peft_files
         COMMAND test_lora peft ${KZ_TF_FIXTURE} ${KZ_LORA_FIXTURE} ${KZ_LORA_TEST_TMP})
# PEFT itself reads kaizen's adapter and kaizen reads PEFT's
# (tests/peft_check.py): needs torch, transformers and peft in KZ_PYTHON_HF
# (io.cmake: the venv beside the repository when there is one); skipped (77)
# otherwise.
if(DEFINED KZ_PYTHON_HF)
  add_test(NAME lora/peft_python
           COMMAND ${KZ_PYTHON_HF} ${CMAKE_CURRENT_SOURCE_DIR}/peft_check.py
                   $<TARGET_FILE:test_lora> ${KZ_TF_FIXTURE} ${KZ_LORA_FIXTURE}
                   ${KZ_LORA_TEST_TMP}/python)
  set_tests_properties(lora/peft_python PROPERTIES SKIP_RETURN_CODE ${KZ_TEST_SKIP_CODE}
                       TIMEOUT 300 ENVIRONMENT OMP_WAIT_POLICY=passive)
endif()
# LoRA through the kaizen binary (tests/lora_cli.sh): adapter runs from a
# base, predict --adapter / --use, another base refused, export --format peft.
add_test(NAME lora/cli
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/lora_cli.sh $<TARGET_FILE:kaizen> ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt)
set_tests_properties(lora/cli PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)
# Adapter-only checkpoints and LoRA adapters by name in the server
# (tests/lora_serve.sh): in-process (test_serve adapters) and over HTTP.
add_test(NAME lora/serve
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/lora_serve.sh $<TARGET_FILE:kaizen> ${KZ_TF_SHARED_DATA}
                 ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wordpiece/vocab_austen_cased.txt
                 $<TARGET_FILE:test_serve>)
set_tests_properties(lora/serve PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 600)

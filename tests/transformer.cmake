# Transformer encoder (models/transformer): PyTorch/Hugging Face parity from a
# committed fixture (tools/make_transformer_fixture.py: logits, loss, every
# gradient and 10 AdamW steps for mlm and classification), and the model's
# own checks (meta round trip, determinism, bad inputs, copying by name).
set(KZ_TF_FIXTURE ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/transformer)
kz_add_c_test_exe(test_transformer test_transformer.c)
foreach(t parity model)
  add_test(NAME transformer/${t} COMMAND test_transformer ${t} ${KZ_TF_FIXTURE})
endforeach()

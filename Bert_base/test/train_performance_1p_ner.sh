#!/bin/bash
# Bert-base NER fine-tuning, performance run: a fixed short number of training steps -> ms/step.
#   bash test/train_performance_1p_ner.sh --data_path=<dir: train .txt (CoNLL) or .json (CLUENER)> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (People's Daily 1998 NER, sequence 64).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_ner_for_TensorFlow RUN_KIND=perf RUN_NAME=ner_perf
batch_size=32 train_steps=200 max_seq_length= EXTRA_FLAGS="max_seq_length"
delivery_parse_args "$@"
bert_setup ner 200 5e-4 3e-5 || exit 1
if [ "$BERT_DEMO" = 1 ]; then max_seq_length=${max_seq_length:-64}; fi   # the demo's sentences: 35 characters median
delivery_run "$PYTHON" run_ner.py --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --max_seq_length="${max_seq_length:-128}" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --num_train_steps="$train_steps" --output_dir="$output_path"

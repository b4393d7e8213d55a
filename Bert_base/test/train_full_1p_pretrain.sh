#!/bin/bash
# Bert-base pretraining (MLM + NSP), full run: train, evaluate -> Final Precision MLM Accuracy,
# and export a clean checkpoint (+ bert_config.json, vocab.txt) to <output>/export for fine-tuning.
#   bash test/train_full_1p_pretrain.sh --data_path=<dir of pretraining TFRecords> [--model_path=<ckpt dir>]
# No --data_path: the embedded demo (People's Daily 1998 TFRecords; configs/bert_tiny.json).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_pretrain_for_TensorFlow RUN_KIND=acc RUN_NAME=pretrain_acc
batch_size=32 max_seq_length=128 max_predictions_per_seq=20 EXTRA_FLAGS="max_seq_length max_predictions_per_seq"
delivery_parse_args "$@"
bert_setup pretrain 600 1e-3 1e-4 || exit 1    # demo: 600 steps at 1e-3; real: 100000 steps at 1e-4
train_steps=${train_steps:-100000}
delivery_run "$PYTHON" run_pretraining.py "${BERT_INPUT_FLAGS[@]}" "${BERT_MODEL_FLAGS[@]}" --do_train=true --do_eval=true \
    --train_batch_size="$batch_size" --eval_batch_size=32 --max_eval_steps=50 --max_seq_length="$max_seq_length" \
    --max_predictions_per_seq="$max_predictions_per_seq" --num_train_steps="$train_steps" \
    --warmup_proportion="$BERT_WARMUP_PROPORTION" --learning_rate="$learning_rate" \
    --output_dir="$output_path" --export_dir="$output_path/export"

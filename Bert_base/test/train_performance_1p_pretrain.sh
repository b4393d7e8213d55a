#!/bin/bash
# Bert-base pretraining (MLM + NSP), performance run: a fixed short number of steps -> ms/step.
#   bash test/train_performance_1p_pretrain.sh --data_path=<dir of pretraining TFRecords>
# No --data_path: the embedded demo (People's Daily 1998 TFRecords; configs/bert_tiny.json).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_pretrain_for_TensorFlow RUN_KIND=perf RUN_NAME=pretrain_perf
batch_size=32 train_steps=200 max_seq_length=128 max_predictions_per_seq=20 EXTRA_FLAGS="max_seq_length max_predictions_per_seq"
delivery_parse_args "$@"
bert_setup pretrain 200 1e-3 1e-4 || exit 1
delivery_run "$PYTHON" run_pretraining.py "${BERT_INPUT_FLAGS[@]}" "${BERT_MODEL_FLAGS[@]}" --do_train=true \
    --train_batch_size="$batch_size" --max_seq_length="$max_seq_length" \
    --max_predictions_per_seq="$max_predictions_per_seq" --num_train_steps="$train_steps" \
    --warmup_proportion="$BERT_WARMUP_PROPORTION" --learning_rate="$learning_rate" \
    --output_dir="$output_path"

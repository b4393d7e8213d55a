#!/bin/bash
# ALBERT pretraining (MLM + SOP, LAMB), performance run: a fixed short number of steps -> ms/step.
#   bash test/train_performance_1p.sh --data_path=<dir of pretraining TFRecords> [--model_path=<ckpt dir>]
# No --data_path: the embedded demo (People's Daily 1998 TFRecords; configs/albert_tiny.json).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/albert_delivery.sh"
Network=Albert_ID0632_for_TensorFlow RUN_KIND=perf RUN_NAME=pretrain_perf
batch_size=32 train_steps=200 max_seq_length= max_predictions_per_seq= EXTRA_FLAGS="max_seq_length max_predictions_per_seq"
delivery_parse_args "$@"
albert_setup pretrain 200 2e-2 0.00001375 || exit 1
delivery_run "$PYTHON" run_pretraining.py $ALBERT_INPUT_FLAGS $ALBERT_MODEL_FLAGS --do_train=true \
    --train_batch_size="$batch_size" --max_seq_length="$max_seq_length" \
    --max_predictions_per_seq="$max_predictions_per_seq" --num_train_steps="$train_steps" \
    --num_warmup_steps=$((train_steps / ALBERT_WARMUP_DIV)) --learning_rate="$learning_rate" --optimizer=lamb \
    --weight_decay_rate=0.01 --output_dir="$output_path"

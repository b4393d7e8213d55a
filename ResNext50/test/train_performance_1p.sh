#!/bin/bash
# ResNext50 (ResNeXt-50 32x4d), performance run: a fixed number of training steps -> images/sec, ms/step.
#   bash test/train_performance_1p.sh --data_path=<ImageNet-format TFRecord dir (train-*, validation-*)>
# No --data_path: the embedded demo (scikit-learn digits at 32x32, 60 steps); see resnext_delivery.sh.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/resnext_delivery.sh"
Network=ResNext50_for_TensorFlow RUN_KIND=perf
batch_size=32 train_steps= learning_rate= iterations_per_loop= num_epochs= image_size= num_classes= restore_exclude= preprocessing=
EXTRA_FLAGS="num_epochs image_size num_classes restore_exclude preprocessing"
delivery_parse_args "$@"
resnext_setup || exit 1
delivery_run "$PYTHON" run_resnext50.py "${RESNEXT_FLAGS[@]}" --mode=train --eval=False \
    --batch_size="$batch_size" --max_train_steps="$train_steps" --num_epochs="$num_epochs" \
    --learning_rate_maximum="$learning_rate" --model_dir="$output_path"

#!/bin/bash
# ResNext50 on several devices/hosts, full run: train --num_epochs (of the global batch), rank 0
# evaluates the whole validation set -> Final Precision Top1 Accuracy of the job.
#   bash test/train_full_8p.sh --rank_size=2                             (2 local workers, demo data)
#   bash test/train_full_8p.sh --rank_table=rank_table_8p.json --data_path=<ImageNet TFRecords>
# Ranks, rank table, hosts: common/scripts/delivery_8p.sh; LR scaling default linear.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/../../common/scripts/delivery_8p.sh"
source "$(dirname "$0")/resnext_delivery.sh"
Network=ResNext50_for_TensorFlow RUN_KIND=acc RUN_NAME=acc_8p LR_SCALING_DEFAULT=linear
batch_size=32 train_steps= learning_rate= iterations_per_loop= num_epochs= image_size= num_classes= restore_exclude= preprocessing=
EXTRA_FLAGS="num_epochs image_size num_classes restore_exclude preprocessing $CLUSTER_FLAGS"
delivery_parse_args "$@"
resnext_setup || exit 1
delivery_cluster
delivery_run "$PYTHON" run_resnext50.py "${RESNEXT_FLAGS[@]}" --mode=train --eval=True \
    --batch_size="$batch_size" ${train_steps:+--max_train_steps=$train_steps} --num_epochs="$num_epochs" \
    --learning_rate_maximum="$learning_rate" --model_dir="$output_path"

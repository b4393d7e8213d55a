#!/bin/bash
# Bert-base fine-tuning on several devices/hosts, full run: train, rank 0 evaluates the dev set
# -> Final Precision Accuracy of the job.
#   bash test/train_full_8p.sh --rank_size=2                             (2 local workers, demo data)
#   bash test/train_full_8p.sh --rank_table=rank_table_8p.json --data_path=<GLUE MRPC dir> --model_path=<BERT dir>
# Ranks, rank table, hosts, LR scaling (default none): common/scripts/delivery_8p.sh. Epochs
# count the global batch (steps = examples / (batch x ranks) x epochs).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/../../common/scripts/delivery_8p.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_for_TensorFlow RUN_KIND=acc RUN_NAME=acc_8p LR_SCALING_DEFAULT=none
batch_size=32 max_seq_length=128 num_train_epochs=3.0 task_name= EXTRA_FLAGS="task_name max_seq_length num_train_epochs $CLUSTER_FLAGS"
delivery_parse_args "$@"
bert_setup finetune 400 5e-4 2e-5 || exit 1    # demo: 400 steps at 5e-4; real: epochs at 2e-5
delivery_cluster
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --do_eval=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --eval_batch_size=32 --learning_rate="$learning_rate" --num_train_epochs="$num_train_epochs" \
    --num_train_steps="${train_steps:-0}" --output_dir="$output_path"

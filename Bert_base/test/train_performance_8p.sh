#!/bin/bash
# Bert-base fine-tuning on several devices/hosts, performance run -> the job's sentences/sec, ms/step.
#   bash test/train_performance_8p.sh --rank_size=2                      (2 local workers, demo data)
#   bash test/train_performance_8p.sh --rank_table=rank_table_2x8p.json --data_path=... --model_path=...
# Ranks, rank table, hosts, LR scaling (default none): common/scripts/delivery_8p.sh.
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/../../common/scripts/delivery_8p.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_for_TensorFlow RUN_KIND=perf RUN_NAME=perf_8p LR_SCALING_DEFAULT=none
batch_size=32 train_steps=200 max_seq_length=128 task_name= EXTRA_FLAGS="task_name max_seq_length $CLUSTER_FLAGS"
delivery_parse_args "$@"
bert_setup finetune 200 5e-4 2e-5 || exit 1
delivery_cluster
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --learning_rate="$learning_rate" --num_train_steps="$train_steps" \
    --output_dir="$output_path"

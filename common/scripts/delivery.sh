# Shared shell contract of every <Model>/test/train_*_1p.sh (sourced, never run).
#
# A model script sets its defaults and calls, in order:
#   source "$(dirname "$0")/../../common/scripts/delivery.sh"
#   Network=Bert-base_for_TensorFlow  RUN_KIND=acc            # acc: full run (Final Precision); perf
#   RUN_NAME=pretrain_acc                                       # optional: results/checkpoint name (default RUN_KIND)
#   batch_size=32 train_steps=1000 learning_rate=2e-5 ...       # defaults of the flags below
#   EXTRA_FLAGS="max_seq_length"                                # its own --key=value flags, if any
#   delivery_parse_args "$@"
#   [ -n "$data_path" ] || delivery_demo_data NAME || exit 1     # sets data_path to the embedded data
#   delivery_run "$PYTHON" run_x.py --data_dir="$data_path" ... $(delivery_common_flags)
#
# Flags (all --key=value): --data_path --model_path (alias --ckpt_path) --output_path --batch_size
# --train_steps --learning_rate --precision_mode --iterations_per_loop --device, plus EXTRA_FLAGS.
# Paths are made absolute (the run starts in the model folder). A flag left empty is not passed on,
# so the entry point's own default applies. Logs go to <Model>/test/output/$ASCEND_DEVICE_ID/ (the
# previous run's log, results and default checkpoint folder are kept as *.prev); the Final block
# comes from common/report.py.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODEL_DIR=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO_ROOT/.venv/bin/python" ]; then PYTHON="$REPO_ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

# The originals crash when these are unset; one device, rank 0 unless told otherwise.
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export RANK_SIZE=${RANK_SIZE:-1}
export RANK_ID=${RANK_ID:-0}

DELIVERY_FLAGS="data_path model_path output_path batch_size train_steps learning_rate precision_mode iterations_per_loop device"
precision_mode=${precision_mode:-allow_mix_precision}
device=${device:-auto}
iterations_per_loop=${iterations_per_loop:-}
data_path=${data_path:-} model_path=${model_path:-} output_path=${output_path:-}
DELIVERY_NOTES=

delivery_die() { echo "error: $*" >&2; exit 1; }

delivery_usage() {
    echo "usage: bash test/$(basename "$0") [--key=value ...]   ($Network, ${RUN_KIND} run)"
    echo "  without --data_path (and --model_path) the embedded demo data is used"
    local key
    for key in $DELIVERY_FLAGS ${EXTRA_FLAGS:-}; do
        printf '  --%-22s (default: %s)\n' "$key" "${!key:-set by the model}"
    done
    echo "  --ckpt_path             alias of --model_path"
}

delivery_parse_args() {
    local arg key value
    for arg in "$@"; do
        case "$arg" in
            -h|--help) delivery_usage; exit 0 ;;
            --*=*) key=${arg%%=*}; key=${key#--}; value=${arg#*=} ;;
            --*) delivery_die "flag $arg needs a value ($arg=VALUE)" ;;
            *) delivery_die "unexpected argument '$arg' (flags are --key=value; see --help)" ;;
        esac
        [ "$key" = ckpt_path ] && key=model_path
        case " $DELIVERY_FLAGS ${EXTRA_FLAGS:-} " in
            *" $key "*) printf -v "$key" '%s' "$value" ;;
            *) delivery_die "unknown flag --$key (see --help)" ;;
        esac
    done
    [ -z "$data_path" ] || [ -e "$data_path" ] || delivery_die "--data_path=$data_path does not exist"
    [ -z "$model_path" ] || [ -e "$model_path" ] || delivery_die "--model_path=$model_path does not exist"
    for key in data_path model_path output_path; do
        [ -z "${!key}" ] || printf -v "$key" '%s' "$(realpath -m -- "${!key}")"
    done
    for key in batch_size train_steps iterations_per_loop; do
        value=${!key:-}
        [ -z "$value" ] || [[ "$value" =~ ^[1-9][0-9]*$ ]] || delivery_die "--$key must be a positive integer, got '$value'"
    done
    [ -z "${learning_rate:-}" ] || [[ "$learning_rate" =~ ^[0-9.]+([eE][-+]?[0-9]+)?$ ]] \
        || delivery_die "--learning_rate must be a number, got '$learning_rate'"
    case "$precision_mode" in
        allow_mix_precision|allow_fp32_to_fp16|must_keep_origin_dtype|force_fp32) ;;
        *) delivery_die "--precision_mode must be allow_mix_precision|allow_fp32_to_fp16|must_keep_origin_dtype|force_fp32, got '$precision_mode'" ;;
    esac
    case "$device" in auto|npu|gpu|cpu) ;; *) delivery_die "--device must be auto|npu|gpu|cpu, got '$device'" ;; esac
    LOG_DIR="$MODEL_DIR/test/output/$ASCEND_DEVICE_ID"
    RUN_NAME=${RUN_NAME:-$RUN_KIND}
    RESULTS_JSON="$LOG_DIR/results_${RUN_NAME}.json"
    DEFAULT_OUTPUT=0
    if [ -z "$output_path" ]; then output_path="$LOG_DIR/ckpt_${RUN_NAME}"; DEFAULT_OUTPUT=1; fi
}

# A line printed at the head of the run (terminal and log) by delivery_run.
delivery_note() {
    DELIVERY_NOTES+="note: $*"$'\n'
}

# Point data_path at an embedded demo data set (generated once into .cache/) and say so.
delivery_demo_data() {
    delivery_note "no --data_path given: running the EMBEDDED DEMO ($1), not a benchmark data set"
    data_path=$("$PYTHON" -m common.demo_data "$1") || { echo "error: could not prepare the embedded data '$1'" >&2; return 1; }
}

delivery_common_flags() {
    echo "--precision_mode=$precision_mode --device=$device --results_json=$RESULTS_JSON" \
        "${iterations_per_loop:+--iterations_per_loop=$iterations_per_loop}"
}

# Keep the previous run's artefact as NAME.prev instead of deleting or mixing it.
delivery_keep_previous() {
    [ -e "$1" ] || return 0
    rm -rf "$1.prev" && mv "$1" "$1.prev"
}

delivery_run() {
    mkdir -p "$LOG_DIR" || delivery_die "cannot create $LOG_DIR"
    local log="$LOG_DIR/train_${ASCEND_DEVICE_ID}.log"
    delivery_keep_previous "$log"
    delivery_keep_previous "$RESULTS_JSON"
    [ "$DEFAULT_OUTPUT" = 1 ] && delivery_keep_previous "$output_path"
    local start end rc
    start=$(date +%s.%N)
    { printf '%s' "$DELIVERY_NOTES"; cd "$MODEL_DIR" && "$@"; } 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    end=$(date +%s.%N)
    if [ "$rc" != 0 ]; then
        {
            echo "error: $Network training failed (exit $rc); last lines of $log:"
            grep -v '^\s*$' "$log" | tail -n 8 | sed 's/^/  | /'
        } >&2
        exit "$rc"
    fi
    "$PYTHON" -m common.report --results="$RESULTS_JSON" --network="$Network" --kind="$RUN_KIND" \
        --log_dir="$LOG_DIR" --e2e_sec="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')" \
        2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 0 ] || exit "$rc"
}

# Shared shell contract of every <Model>/test/train_*_1p.sh (sourced, never run).
#
# A model script sets its defaults and calls, in order:
#   source "$(dirname "$0")/../../common/scripts/delivery.sh"
#   Network=Bert-base_for_TensorFlow  RUN_KIND=acc            # acc: full run (Final Precision); perf
#   RUN_NAME=pretrain_acc                                       # optional: results/checkpoint/log name (default RUN_KIND)
#   batch_size=32 train_steps=1000 learning_rate=2e-5 ...       # defaults of the flags below
#   EXTRA_FLAGS="max_seq_length"                                # its own --key=value flags, if any
#   delivery_parse_args "$@"
#   [ -n "$data_path" ] || delivery_demo_data NAME || exit 1     # sets data_path to the embedded data
#   delivery_run "$PYTHON" run_x.py --data_dir="$data_path" ...   # + the shared flags, appended
#
# Flags (all --key=value): --data_path --model_path (alias --ckpt_path) --output_path --batch_size
# --train_steps --learning_rate --precision_mode --iterations_per_loop --device --loss_scale, the
# flags Ascend's harness passes (--over_dump --data_dump_flag --data_dump_step --profiling
# --autotune; their meaning per backend is in common/npu_runconfig.py), the dump's --data_dump_mode
# and --data_dump_filter (common/tensor_dump.py), the targets --target_precision --target_fps
# --enforce_targets (common/targets.py; defaults from <Model>/targets.json), --seed and
# --repeat_seeds=N (N runs with N seeds into numbered folders, for common.compare), plus EXTRA_FLAGS. Paths are
# made absolute (the run starts in the model folder) and may contain spaces. A flag left empty is
# not passed on, so the entry point's own default applies.
#
# Outputs, under ${OUTPUT_ROOT:-<Model>/test/output}/$ASCEND_DEVICE_ID/ - a run never destroys an
# earlier good one: it writes into a fresh .running_* folder and only a run that succeeded replaces
# what was there (the replaced files are kept as *.prev):
#   train_<RUN_NAME>_$ASCEND_DEVICE_ID.log, results_<RUN_NAME>.json, ckpt_<RUN_NAME>/ (default
#   --output_path), <CaseName>.log, train_<CaseName>_loss.txt;
#   train_$ASCEND_DEVICE_ID.log - the latest attempt's log (the name Ascend's tooling reads);
#   a failed run leaves train_<RUN_NAME>_$ASCEND_DEVICE_ID.failed.log (and ckpt_<RUN_NAME>.failed/
#   when it had written a checkpoint) and nothing else changed.
# An explicit --output_path is the user's folder: the run trains there directly, resuming from the
# checkpoint it holds.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
MODEL_DIR=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ]; then
    if [ -x "$REPO_ROOT/.venv/bin/python" ]; then PYTHON="$REPO_ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
# No C++ INFO noise (a user's own setting wins).
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-1}
# TensorFlow 2.15 turns its oneDNN CPU kernels on by default only on AVX-512 VNNI/BF16 and AMX
# CPUs; elsewhere (AVX2-only) its plain kernels ran ResNeXt-50 8x slower here and have no grouped
# convolution. Turn them on unless the user decided (TF 1.15 ignores the variable); the run's
# "cpu: ..., oneDNN on|off" line says what ran.
export TF_ENABLE_ONEDNN_OPTS=${TF_ENABLE_ONEDNN_OPTS:-1}

DELIVERY_NOTES=
delivery_note() { DELIVERY_NOTES+="note: $*"$'\n'; }   # printed at the head of the run and its log

# The originals crash when these are unset. A 1p script runs one device whatever the shell says
# (a stale RANK_SIZE=8 must not turn it into a distributed run).
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
case "$(basename "$0")" in
    *_1p*)
        if [ "${RANK_SIZE:-1}" != 1 ]; then
            delivery_note "RANK_SIZE=$RANK_SIZE in the environment ignored: $(basename "$0") runs one device"
        fi
        export RANK_SIZE=1 RANK_ID=0 ;;
    *) export RANK_SIZE=${RANK_SIZE:-1} RANK_ID=${RANK_ID:-0} ;;
esac

DELIVERY_FLAGS="data_path model_path output_path batch_size train_steps learning_rate precision_mode iterations_per_loop device loss_scale over_dump data_dump_flag data_dump_step data_dump_mode data_dump_filter profiling autotune target_precision target_fps enforce_targets seed repeat_seeds"
PRECISION_MODES="allow_mix_precision allow_fp32_to_fp16 force_fp16 cube_fp16in_fp32out must_keep_origin_dtype force_fp32"
precision_mode=${precision_mode:-allow_mix_precision}
device=${device:-auto}
iterations_per_loop=${iterations_per_loop:-} loss_scale=${loss_scale:-}
over_dump=${over_dump:-} data_dump_flag=${data_dump_flag:-} data_dump_step=${data_dump_step:-}
data_dump_mode=${data_dump_mode:-} data_dump_filter=${data_dump_filter:-}
target_precision=${target_precision:-} target_fps=${target_fps:-} enforce_targets=${enforce_targets:-False}
seed=${seed:-} repeat_seeds=${repeat_seeds:-1}
DELIVERY_DEMO=0
profiling=${profiling:-} autotune=${autotune:-}
data_path=${data_path:-} model_path=${model_path:-} output_path=${output_path:-}

# TensorFlow start-up lines that say nothing about the run (TF 2.15 registers its CUDA plugins
# twice and prints these even on CPU-only machines); dropped from the terminal and the log.
DELIVERY_NOISE='Unable to register cu(DNN|FFT|BLAS) factory|TF-TRT Warning: Could not find TensorRT|oneDNN custom operations are on|This TensorFlow binary is optimized to use available CPU instructions|To enable the following instructions|cpu_feature_guard'

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

delivery_check_bool() {   # Ascend's harness passes True/False
    case "${!1}" in ""|True|False|true|false|1|0) ;; *) delivery_die "--$1 must be True or False, got '${!1}'" ;; esac
}

delivery_parse_args() {
    local arg key value
    DELIVERY_ARGS=("$@")
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
            *) delivery_die "unknown flag --$key; valid: $(echo $DELIVERY_FLAGS ckpt_path ${EXTRA_FLAGS:-} | sed 's/\([^ ]*\)/--\1/g')" ;;
        esac
    done
    [ -z "$data_path" ] || [ -e "$data_path" ] || delivery_die "--data_path=$data_path does not exist"
    [ -z "$model_path" ] || [ -e "$model_path" ] || delivery_die "--model_path=$model_path does not exist"
    for key in data_path model_path output_path; do
        [ -z "${!key}" ] || printf -v "$key" '%s' "$(realpath -m -- "${!key}")"
    done
    for key in batch_size train_steps iterations_per_loop repeat_seeds; do
        value=${!key:-}
        [ -z "$value" ] || [[ "$value" =~ ^[1-9][0-9]*$ ]] || delivery_die "--$key must be a positive integer, got '$value'"
    done
    [ -z "${learning_rate:-}" ] || [[ "$learning_rate" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] \
        || delivery_die "--learning_rate must be a number, got '$learning_rate'"
    case " $PRECISION_MODES " in
        *" $precision_mode "*) ;;
        *) delivery_die "--precision_mode must be one of ${PRECISION_MODES// /|}, got '$precision_mode'" ;;
    esac
    case "$device" in auto|npu|gpu|cpu) ;; *) delivery_die "--device must be auto|npu|gpu|cpu, got '$device'" ;; esac
    for key in over_dump data_dump_flag profiling autotune enforce_targets; do delivery_check_bool "$key"; done
    for key in target_precision target_fps; do
        [ -z "${!key}" ] || [[ "${!key}" =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] \
            || delivery_die "--$key must be a number, got '${!key}'"
    done
    # Ascend's dump steps: "0|5|10", ranges "3-5" (checked again, with the same rule, in Python).
    [ -z "$data_dump_step" ] || [[ "$data_dump_step" =~ ^[0-9]+(-[0-9]+)?(\|[0-9]+(-[0-9]+)?)*$ ]] \
        || delivery_die "--data_dump_step must be steps like 0|5|10 or ranges like 3-5, got '$data_dump_step'"
    [ -z "$seed" ] || [[ "$seed" =~ ^[0-9]+$ ]] || delivery_die "--seed must be a non-negative integer, got '$seed'"
    [ "$repeat_seeds" = 1 ] || delivery_repeat_seeds
    LOG_DIR="${OUTPUT_ROOT:-$MODEL_DIR/test/output}/$ASCEND_DEVICE_ID"
    RUN_NAME=${RUN_NAME:-$RUN_KIND}
    RUN_DIR="$LOG_DIR/.running_${RUN_NAME}_$$"         # this attempt's outputs until it succeeds
    RESULTS_JSON="$LOG_DIR/results_${RUN_NAME}.json"
    RUN_LOG="$LOG_DIR/train_${RUN_NAME}_${ASCEND_DEVICE_ID}.log"
    DEFAULT_OUTPUT=0
    if [ -z "$output_path" ]; then output_path="$LOG_DIR/ckpt_${RUN_NAME}"; DEFAULT_OUTPUT=1; fi
    FINAL_OUTPUT=$output_path
    [ "$DEFAULT_OUTPUT" = 1 ] && output_path="$RUN_DIR/ckpt"
}

# --repeat_seeds=N: the same run N times with seeds seed, seed+1, ... (default seed 12345), each into
# ${OUTPUT_ROOT:-<Model>/test/output}/seed_<seed>/$ASCEND_DEVICE_ID/, then the final metric of each
# and the common.compare command over them; exits non-zero if any run failed.
delivery_repeat_seeds() {
    [ -z "$output_path" ] || delivery_die "--repeat_seeds needs the default output folders (drop --output_path)"
    local root="${OUTPUT_ROOT:-$MODEL_DIR/test/output}" first=${seed:-12345} i s rc=0 dirs=()
    for ((i = 0; i < repeat_seeds; i++)); do
        s=$((first + i))
        echo "=== seed $s ($((i + 1)) of $repeat_seeds): $root/seed_$s/$ASCEND_DEVICE_ID"
        OUTPUT_ROOT="$root/seed_$s" bash "$0" "${DELIVERY_ARGS[@]}" --repeat_seeds=1 --seed="$s" || rc=1
        dirs+=("$root/seed_$s/$ASCEND_DEVICE_ID")
    done
    echo "=== $repeat_seeds seeds:"
    for i in "${dirs[@]}"; do
        echo "    $i: $(grep -h -E '^Final (Precision|Performance ms/step)' \
            "$i/train_${RUN_NAME:-$RUN_KIND}_${ASCEND_DEVICE_ID}.log" 2>/dev/null | tr '\n' ' ')"
    done
    echo "compare them with another side's runs: python -m common.compare --base=$(IFS=,; echo "${dirs[*]}") --test=..."
    exit "$rc"
}

# The shared flags, from their values when the run starts (a model's setup may still fill
# defaults such as iterations_per_loop after delivery_parse_args); delivery_run appends them.
delivery_common_flags_array() {
    DELIVERY_COMMON_FLAGS=(--precision_mode="$precision_mode" --device="$device" --results_json="$RUN_DIR/results.json")
    local key
    for key in iterations_per_loop loss_scale over_dump data_dump_flag data_dump_step data_dump_mode \
               data_dump_filter profiling autotune seed; do
        [ -z "${!key}" ] || DELIVERY_COMMON_FLAGS+=("--$key=${!key}")
    done
}

# Point data_path at an embedded demo data set (generated once into .cache/) and say so.
# delivery_demo_data NAME [MODULE]: MODULE (default common.demo_data) is run as python -m MODULE NAME.
delivery_demo_data() {
    delivery_note "no --data_path given: running the EMBEDDED DEMO ($1), not a benchmark data set"
    DELIVERY_DEMO=1
    data_path=$(cd "$REPO_ROOT" && "$PYTHON" -m "${2:-common.demo_data}" "$1") \
        || { echo "error: could not prepare the embedded data '$1'" >&2; return 1; }
}

# Replace $2 by $1, keeping what was there as $2.prev.
delivery_promote() {
    [ -e "$1" ] || return 0
    if [ -e "$2" ]; then rm -rf -- "$2.prev" && mv -- "$2" "$2.prev"; fi
    mv -- "$1" "$2"
}

# delivery_run COMMAND ARGS...: runs COMMAND ARGS plus the shared flags (precision, device,
# results JSON, loop size, loss scale, harness options) in the model folder.
delivery_run() {
    mkdir -p "$RUN_DIR" || delivery_die "cannot create $RUN_DIR"
    delivery_common_flags_array
    local log="$RUN_DIR/train.log" start end rc
    start=$(date +%s.%N)
    { printf '%s' "$DELIVERY_NOTES"; cd "$MODEL_DIR" && "$@" "${DELIVERY_COMMON_FLAGS[@]}"; } 2>&1 \
        | grep --line-buffered -v -E "$DELIVERY_NOISE" | tee "$log"
    rc=${PIPESTATUS[0]}
    end=$(date +%s.%N)
    if [ "$rc" = 0 ]; then
        "$PYTHON" -m common.report --results="$RUN_DIR/results.json" --network="$Network" --kind="$RUN_KIND" \
            --log_dir="$RUN_DIR" --e2e_sec="$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.2f", b-a}')" \
            --targets="$MODEL_DIR/targets.json" --run_name="$RUN_NAME" --demo="$DELIVERY_DEMO" \
            ${target_precision:+--target_precision="$target_precision"} ${target_fps:+--target_fps="$target_fps"} \
            --enforce_targets="$enforce_targets" 2>&1 | tee -a "$log"
        rc=${PIPESTATUS[0]}
    fi
    # 4: --enforce_targets and a status is NOK: the run itself succeeded, its outputs are kept
    local gate=0
    if [ "$rc" = 4 ]; then gate=4; rc=0; fi
    cp -- "$log" "$LOG_DIR/train_${ASCEND_DEVICE_ID}.log.tmp" && mv -- "$LOG_DIR/train_${ASCEND_DEVICE_ID}.log.tmp" "$LOG_DIR/train_${ASCEND_DEVICE_ID}.log"
    if [ "$rc" != 0 ]; then
        mv -- "$log" "${RUN_LOG%.log}.failed.log"
        if [ "$DEFAULT_OUTPUT" = 1 ] && compgen -G "$RUN_DIR/ckpt/model.ckpt-*" > /dev/null; then
            rm -rf -- "$FINAL_OUTPUT.failed" && mv -- "$RUN_DIR/ckpt" "$FINAL_OUTPUT.failed"
        fi
        rm -rf -- "$RUN_DIR"
        # The Python error line comes last and alone on stderr; a crash without one shows context.
        local failed="${RUN_LOG%.log}.failed.log" error_line
        error_line=$(grep '^error: ' "$failed" | tail -n 1)
        # Name the flags the user typed, not the entry point's names for them (--data_url, ...).
        local arg
        for arg in "${@:2}"; do
            case "$arg" in
                --*=*) ;;
                *) continue ;;
            esac
            if [ -n "$data_path" ] && [ "${arg#*=}" = "$data_path" ]; then
                error_line=${error_line//"${arg%%=*}"/--data_path}
            elif [ -n "$model_path" ] && [ "${arg#*=}" = "$model_path" ]; then
                error_line=${error_line//"${arg%%=*}"/--model_path}
            fi
        done
        if [ -n "$error_line" ]; then
            echo "$error_line" >&2
        else
            {
                echo "last lines of $failed:"
                grep -v '^\s*$' "$failed" | tail -n 8 | sed 's/^/  | /'
                echo "error: $Network training failed (exit $rc); earlier results in $LOG_DIR are unchanged"
            } >&2
        fi
        exit "$rc"
    fi
    local f
    for f in "$RUN_DIR"/*_loss.txt "$RUN_DIR"/*.log; do
        [ -e "$f" ] && [ "$f" != "$log" ] && delivery_promote "$f" "$LOG_DIR/$(basename "$f")"
    done
    delivery_promote "$RUN_DIR/results.json" "$RESULTS_JSON"
    delivery_promote "$log" "$RUN_LOG"
    [ "$DEFAULT_OUTPUT" = 1 ] && delivery_promote "$RUN_DIR/ckpt" "$FINAL_OUTPUT"
    rm -rf -- "$RUN_DIR"
    echo "outputs: $LOG_DIR (log $(basename "$RUN_LOG"), results $(basename "$RESULTS_JSON")$([ "$DEFAULT_OUTPUT" = 1 ] && echo ", checkpoints $(basename "$FINAL_OUTPUT")/"))"
    if [ "$gate" != 0 ]; then    # the reason, alone on stderr as every failure's
        grep '^error: --enforce_targets' "$RUN_LOG" | tail -n 1 >&2
        exit "$gate"
    fi
}

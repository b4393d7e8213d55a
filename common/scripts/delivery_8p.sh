# The multi-device part of the delivery contract (<Model>/test/train_*_8p.sh), sourced after
# common/scripts/delivery.sh (never run). An 8p script adds $CLUSTER_FLAGS to EXTRA_FLAGS, sets
# RUN_NAME (e.g. perf_8p) and LR_SCALING_DEFAULT, and calls delivery_cluster after the model's
# setup and before delivery_run:
#   --rank_size=N        ranks of the job (default: $RANK_SIZE when > 1, else 8); alone: N local
#                        workers on 127.0.0.1
#   --rank_table=FILE    Ascend's v1.0 server_list rank table (default $RANK_TABLE_FILE): ranks,
#                        servers, devices; the same file on every host
#   --worker_hosts=H:P,H:P,...  one worker per entry, rank order (instead of a rank table)
#   --server_id=ADDR     this host's server_id in the table / host in --worker_hosts (default:
#                        the entries naming one of this machine's addresses)
#   --base_port=P        a rank table's rank listens on P + device_id (default 29500)
#   --lr_scaling=none|linear   linear: --learning_rate x ranks (the global batch grows with
#                        the ranks); default per model (LR_SCALING_DEFAULT)
# The script first runs as the launcher (common/launcher.py): it starts one copy of itself per
# rank of this host with RANK_ID, RANK_SIZE, ASCEND_DEVICE_ID, TF_CONFIG (off Ascend) and
# DELIVERY_CLUSTER_RANK=1, stops them all when one fails, then prints one Final block for the
# job and writes <CaseName>.log into ${OUTPUT_ROOT:-<Model>/test/output}/. Each rank is a
# normal delivery run into ${OUTPUT_ROOT:-<Model>/test/output}/$ASCEND_DEVICE_ID/ (its log,
# results, Final block, CaseName.log); the launcher keeps each rank's terminal output in
# launcher/rank_<R>.log there. Checkpoints: one folder for the job, written by rank 0 and resumed
# by every rank (default ckpt_<RUN_NAME>_<N>p/ under the output root, replaced only by a run that
# succeeded; on several hosts give --output_path on a shared file system). In acc runs rank 0
# evaluates the job (the whole dev/validation set); the other ranks report as perf runs.
# --train_steps are the job's global steps; epochs count the global batch.

CLUSTER_FLAGS="rank_size rank_table worker_hosts server_id base_port lr_scaling"
rank_size=${rank_size:-} rank_table=${rank_table:-${RANK_TABLE_FILE:-}} worker_hosts=${worker_hosts:-}
server_id=${server_id:-} base_port=${base_port:-} lr_scaling=${lr_scaling:-}

delivery_cluster() {
    if [ "${DELIVERY_CLUSTER_RANK:-0}" = 1 ]; then     # one rank, started by the launcher
        if [ "$RUN_KIND" = acc ] && [ "$RANK_ID" != 0 ]; then
            RUN_KIND=perf
            delivery_note "rank $RANK_ID of $RANK_SIZE trains; rank 0 evaluates the job"
        fi
        return 0
    fi
    [ -z "$rank_size" ] || [[ "$rank_size" =~ ^[1-9][0-9]*$ ]] || delivery_die "--rank_size must be a positive integer, got '$rank_size'"
    [ -z "$base_port" ] || [[ "$base_port" =~ ^[1-9][0-9]*$ ]] || delivery_die "--base_port must be a positive integer, got '$base_port'"
    [ -z "$rank_table" ] || [ -f "$rank_table" ] || delivery_die "--rank_table=$rank_table does not exist (RANK_TABLE_FILE?)"
    lr_scaling=${lr_scaling:-${LR_SCALING_DEFAULT:-none}}
    case "$lr_scaling" in none|linear) ;; *) delivery_die "--lr_scaling must be none or linear, got '$lr_scaling'" ;; esac
    if [ -z "$rank_size" ] && [ -z "$rank_table" ] && [ -z "$worker_hosts" ]; then
        if [ "${RANK_SIZE:-1}" != 1 ]; then rank_size=$RANK_SIZE; else rank_size=8; fi
    fi
    local job=() n root shared final
    [ -z "$rank_table" ] || job+=(--rank_table="$(realpath -- "$rank_table")")
    [ -z "$worker_hosts" ] || job+=(--worker_hosts="$worker_hosts")
    [ -z "$rank_size" ] || job+=(--rank_size="$rank_size")
    [ -z "$base_port" ] || job+=(--base_port="$base_port")
    n=$(cd "$REPO_ROOT" && "$PYTHON" -m common.launcher "${job[@]}" --print_rank_size) || exit 2
    local rank_flags=()
    if [ "$lr_scaling" = linear ] && [ -n "$learning_rate" ]; then
        local scaled
        scaled=$(awk -v a="$learning_rate" -v n="$n" 'BEGIN{printf "%.6g", a*n}')
        echo "note: --lr_scaling=linear: learning rate $learning_rate x $n ranks = $scaled"
        rank_flags+=(--learning_rate="$scaled")
    else
        echo "note: --lr_scaling=none: learning rate ${learning_rate:-(the entry point default)} for the global batch of $n x ${batch_size:-?}"
    fi
    root="${OUTPUT_ROOT:-$MODEL_DIR/test/output}"
    mkdir -p "$root" || delivery_die "cannot create $root"
    if [ "$DEFAULT_OUTPUT" = 1 ]; then
        final="$root/ckpt_${RUN_NAME}_${n}p" shared="$root/ckpt_${RUN_NAME}_${n}p.running_$$"
    else
        final=$FINAL_OUTPUT shared=$FINAL_OUTPUT
    fi
    rank_flags+=(--output_path="$shared")
    local rc
    (cd "$REPO_ROOT" && "$PYTHON" -m common.launcher "${job[@]}" ${server_id:+--server_id="$server_id"} \
        --network="$Network" --kind="$RUN_KIND" --run_name="$RUN_NAME" --output_root="$root" \
        --log_dir="$root/launcher" --targets="$MODEL_DIR/targets.json" --demo="$DELIVERY_DEMO" \
        --enforce_targets="$enforce_targets" -- bash "$0" "${DELIVERY_ARGS[@]}" "${rank_flags[@]}")
    rc=$?
    if [ "$DEFAULT_OUTPUT" = 1 ] && [ -e "$shared" ]; then
        if [ "$rc" = 0 ] || [ "$rc" = 4 ]; then
            delivery_promote "$shared" "$final"
            echo "checkpoints of the job: $final"
        elif compgen -G "$shared/model.ckpt-*" > /dev/null; then
            rm -rf -- "$final.failed" && mv -- "$shared" "$final.failed"
        else
            rm -rf -- "$shared"
        fi
    fi
    exit "$rc"
}

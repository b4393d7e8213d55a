#!/bin/bash
# The delivery's name for the reading fine-tuning run: an alias of test/train_full_1p_reading.sh (same flags).
exec bash "$(dirname "$0")/../test/train_full_1p_reading.sh" "$@"

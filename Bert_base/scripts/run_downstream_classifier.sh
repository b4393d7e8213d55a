#!/bin/bash
# The delivery's name for the classifier fine-tuning run: an alias of test/train_full_1p.sh (same flags).
exec bash "$(dirname "$0")/../test/train_full_1p.sh" "$@"

#!/bin/bash
# The original delivery's name for test/train_full_1p.sh (same flags).
exec bash "$(dirname "$0")/../test/train_full_1p.sh" "$@"

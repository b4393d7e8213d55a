#!/bin/bash
# The original delivery's name for test/train_performance_1p.sh (same flags).
exec bash "$(dirname "$0")/../test/train_performance_1p.sh" "$@"

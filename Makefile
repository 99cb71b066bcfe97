# `make test` works on a fresh machine: it creates .venv and installs everything first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup lint test site e2e chaos chaos-queue bench clean

setup: $(VENV)/.installed

# setuptools and wheel: tests/test_packaging.py builds the wheel without build isolation.
$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -e '.[dev,local,postgres]'
	touch $@

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service

test: lint
	$(BIN)/pytest

# The whole corpus end to end into site/ (Markdown + JSON; `mkdocs build` turns it into HTML).
# With no OPENAI_BASE_URL/OPENAI_API_KEY this runs offline on the embedded Qwen2.5-Coder-1.5B-Instruct
# (the GGUF is assembled under cache/models on first use): slow on CPU, see the README for quality.
# `run` exits 1 when a task failed or is partial (likely with that model) or a file could not be
# read; the site is written all the same and shows why, so here that is reported, not an error.
# A failure that writes no site (bad setup, no model server) is still an error.
site: setup
	@rm -f site/index.md
	$(BIN)/policy-reader run corpus --out site || { [ $$? -eq 1 ] && [ -f site/index.md ] && \
		echo "make site: site/ written, but not everything succeeded: see the reasons above and on each page"; }

# Only the end-to-end tests on the real local model server (also part of `make test`).
e2e: setup
	$(BIN)/pytest -m e2e

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache site

# --- bench ---
# Reliability checks CI can run: a stand-in model server on loopback, small batches, each
# subprocess under a hard timeout (bench/chaos.py); plus the fast bad-input tests.
chaos: setup
	PYTHONPATH=. $(BIN)/python -m bench.chaos --docs 20
	PYTHONPATH=. $(BIN)/pytest -q tests/test_reliability_input.py

# The job queue under chaos (bench/chaos_queue.py): PostgreSQL (READER_TEST_DATABASE_URL, else
# .ci/postgres), 2 API processes, 2 queue workers, one killed -9 and restarted; 20 % faults.
# The workers go through one `policy-reader relay`; 200 documents, under a minute. In CI.
chaos-queue: setup
	PYTHONPATH=. $(BIN)/python -m bench.chaos_queue --docs 200

# The measurements of docs/BENCHMARKS.md (minutes; needs the `bench` extra for LangChain).
bench: setup
	$(BIN)/python -m pip install -e '.[bench]'
	PYTHONPATH=. $(BIN)/python bench/bench_throughput.py --via raw gateway reader
	PYTHONPATH=. $(BIN)/python bench/bench_gateway_overhead.py
	PYTHONPATH=. $(BIN)/python bench/bench_procs.py
	PYTHONPATH=. $(BIN)/python bench/bench_rerun.py
	PYTHONPATH=. $(BIN)/python bench/bench_pdf_text.py
	PYTHONPATH=. $(BIN)/python bench/bench_cache.py
	PYTHONPATH=. $(BIN)/python bench/bench_tokens.py
	PYTHONPATH=. $(BIN)/python bench/bench_memory.py

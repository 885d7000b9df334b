# Thin: every target sets up .venv when needed, then calls the CLI or pytest.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench serve screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# The main job: run the scenario catalog (scenarios/), with progress and a summary.
run: $(STAMP)
	$(BIN)/ocsp-lab run

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check pki responder lab tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# The status page at 1024x768 and 1600x900 (headless Chromium) into docs/screenshots/.
screenshots: $(STAMP)
	$(BIN)/python -m tests.screenshots

serve: $(STAMP)
	$(BIN)/ocsp-lab serve $(SCENARIO) --out $(or $(OUT),out/serve)

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache .mypy_cache .ruff_cache

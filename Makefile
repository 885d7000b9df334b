# Thin: every target sets up .venv when needed, then calls the CLI or pytest.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench serve screenshots mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# The main job: run the scenario catalog (scenarios/), with progress and a summary.
# TLS=1: each connection a real TLS handshake (ocsp-lab run --tls).
run: $(STAMP)
	$(BIN)/ocsp-lab run $(if $(TLS),--tls)

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
	$(BIN)/ocsp-lab serve $(SCENARIO) --out $(or $(OUT),out/serve) $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# Mutation testing ([tool.mutmut] in pyproject.toml, docs/mutation-testing.md): the
# validator's decision functions and the policy by default; MUTANTS='lab.validator.*' for all,
# MUTATION_JOBS for mutmut's parallelism. Prints the survivors and the score.
MUTATION_JOBS ?= 1
MUTANTS ?= $(foreach f,find_signer _dtm_reason _trp_reason _responder_id_matches \
	_signature_verifies _unique,'lab.validator.signer.x_$(f)__mutmut_*') \
	$(foreach f,_matches select check_extensions check_freshness check_nonce,\
	'lab.validator.content.x_$(f)__mutmut_*') \
	'lab.validator.facts.x_cert_validity__mutmut_*' 'lab.validator.certsig.*' \
	$(foreach m,issued_by ocsp_signing nocheck validity valid_at same_subject,\
	'lab.validator.facts.xǁCertFactsǁ$(m)__mutmut_*') 'lab.policy.*'
mutation: $(STAMP)
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(BIN)/python -m tests.mutation_score $(MUTANTS)

clean:
	rm -rf $(VENV) out build mutants *.egg-info .pytest_cache .mypy_cache .ruff_cache

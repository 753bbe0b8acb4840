# Loom & Co. support bot. The two commands a newcomer needs: `make run` and `make test`.
# Runtime A (.venv-rasa, Python 3.10): Rasa server + our connectors and NLU components.
# Runtime B (.venv, Python 3.11): action server, services, tests, tools.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON310 ?= $(shell scripts/find-python310)
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
VENV_RASA := .venv-rasa
VENV := .venv
RASA := $(VENV_RASA)/bin/rasa
PY := $(VENV)/bin/python
PY_RASA := $(VENV_RASA)/bin/python
MODEL := models/current.tar.gz

# Rasa phones home for telemetry and crash reports; the hosts are unreachable here and only clutter logs.
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONWARNINGS := ignore::DeprecationWarning

# Rasa-side tests run in runtime A; everything else in runtime B.
TESTS_RASA := tests/bot/nlu tests/bot/conversations/test_tracker_store.py tests/bot/rasa_server tests/connectors tests/security/webhooks
# Runtime-A tests that build Rasa's app as `python -m bot.rasa_server` does, with every change of ours
# installed process-wide (endpoints.yml's tracker store installs them): a pytest process of their own.
TESTS_RASA_OWN := tests/bot/rasa_server/test_model_swap.py
BENCH_ARGS ?=
# Says and times each set-up step (and records it for the summary `make run` prints at the end).
STEP := scripts/step
export VAR_DIR ?= var

CHROMIUM ?= /usr/bin/chromium
APT_GET := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)

.PHONY: help run actions setup-clock not-running test test-quick test-soak train validate shell bench bench-profile bench-rounds bench-nlu bench-ack fault lint \
	install browser clean test-unit test-stories test-nlu nlu-report audit audit-online lock fuzz nlu-check

help:
	@echo "make run       set everything up and start the assistant (Rasa :5005, actions :5055)"
	@echo "make test      set everything up and run every test (about 55 minutes on 2 cores)"
	@echo "make test-soak   the long load and soak runs make test leaves out (a model swap under load, ~11 min)"
	@echo "make test-quick  lint and the unit tests of both runtimes: no model, services or browser (under 5 minutes)"
	@echo "make actions   the action server alone, for Rasa's own CLI in another terminal (rasa shell, rasa run)"
	@echo "make train     train the model if its inputs changed"
	@echo "make validate  check domain, data and stories"
	@echo "make nlu-report  data-quality report for content editors: cross-validated confusions, duplicates, contradictions (NLU_REPORT_ARGS=--no-cv for the quick part)"
	@echo "make nlu-check regression report of changed NLU data: F1 per intent before/after, safe to ship or why not"
	@echo "               (NLU_CHECK_ARGS, e.g. --data other/data --force; the same as \`bot nlu check\`)"
	@echo "make shell     talk to the bot in the terminal"
	@echo "make bench     per-message cost table, Messenger e2e vs stock Rasa (BENCH_ARGS='--only e2e': just it);"
	@echo "               before it training time, cold start, REST throughput, photos"
	@echo "make fault     fault harness: kills and platform errors under load; 0 lost/duplicated/out of order"
	@echo "make bench-profile  where a message's time goes in the Rasa server, turn 1 vs turn 200 (PROFILE_ARGS)"
	@echo "make bench-rounds   the Messenger path at 20 conversations, several rounds on one stack (ROUNDS_ARGS)"
	@echo "make bench-nlu understanding alone: ms per message and per NLU component (NLU_BASELINE=model to compare)"
	@echo "make bench-ack webhook ack latency at 200/s, Rasa server vs ingress, SQLite and Redis inboxes"
	@echo "make lint      ruff"
	@echo "make fuzz      the webhook fuzzer, long: FUZZ_BODIES=50000 mutated bodies (FUZZ_SEED to vary)"
	@echo "make audit     known vulnerabilities in both lock files (offline snapshot; part of make test)"
	@echo "make audit-online  pip-audit against PyPI's vulnerability data (needs that service reachable)"
	@echo "make lock      regenerate requirements/*.lock from the installed venvs (FRESH=1: resolve anew)"
	@echo "make browser   install Debian's headless Chromium for the desk's browser tests"

install: $(VENV_RASA)/.installed $(VENV)/.installed

# Each runtime installs exactly its lock file (requirements/*.lock: every package at one version), then
# this project without dependencies, then checks that the lock serves pyproject.toml's requirements
# (scripts/check_lock.py). `make lock` regenerates the locks (README, "Dependencies"). pip prints what it
# downloads and installs; scripts/step says how long each step took.
$(VENV_RASA)/.installed: pyproject.toml requirements/rasa.lock
	@echo "==> runtime A: $(VENV_RASA) (Python 3.10, Rasa 3.6): $$(grep -vc '^#' requirements/rasa.lock) packages," \
		"about 2.9 GB; the first time takes 3-10 minutes, depending on the network"
	@test -x $(PY_RASA) || $(PYTHON310) -m venv $(VENV_RASA)
	@$(STEP) "install runtime A" bash -c '$(PY_RASA) -m pip install --progress-bar on -U "pip>=24" -c requirements/rasa.lock \
		&& $(PY_RASA) -m pip install --progress-bar on -r requirements/rasa.lock \
		&& $(PY_RASA) -m pip install --no-deps -q -e . \
		&& $(PY_RASA) scripts/check_lock.py requirements/rasa.lock rasa rasa-dev'
	@touch $@

$(VENV)/.installed: pyproject.toml requirements/service.lock
	@$(PYTHON311) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
		{ echo "Python 3.11 needed for runtime B; set PYTHON311=/path/to/python3.11"; exit 1; }
	@echo "==> runtime B: $(VENV) (Python 3.11, actions and services): $$(grep -vc '^#' requirements/service.lock)" \
		"packages, about 2.3 GB (torch CPU); the first time takes 3-10 minutes, depending on the network"
	@test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	@$(STEP) "install runtime B" bash -c '$(PY) -m pip install --progress-bar on -U "pip>=24" -c requirements/service.lock \
		&& $(PY) -m pip install --progress-bar on -r requirements/service.lock \
		&& $(PY) -m pip install --no-deps -q -e . \
		&& $(PY) scripts/check_lock.py requirements/service.lock service dev'
	@touch $@

# The desk's browser tests drive Debian's Chromium through Playwright (no browser download).
browser:
	@test -x $(CHROMIUM) || $(STEP) "install Debian's chromium for the browser tests (about 300 MB with its libraries)" \
		bash -c '$(APT_GET) update && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y chromium chromium-driver'
	@$(CHROMIUM) --version 2>/dev/null

train: install
	@$(STEP) "train the model (if its inputs changed)" $(PY) scripts/train_model.py --rasa $(RASA)

# `rasa data validate --fail-on-warnings`, but for its warning about responses only actions send
# (tests/actions/test_replies.py checks those properly): scripts/validate_data.py.
validate: $(VENV_RASA)/.installed
	$(PY_RASA) scripts/validate_data.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

# The webhook fuzzer of tests/security/webhooks at length (`make test` runs 2,000 bodies); prints its figures.
FUZZ_BODIES ?= 50000
fuzz: $(VENV_RASA)/.installed
	FUZZ_BODIES=$(FUZZ_BODIES) $(VENV_RASA)/bin/pytest -q -s \
		tests/security/webhooks/test_fuzz.py::test_fuzzed_webhooks_never_fail_and_unsigned_ones_never_get_in

# Known vulnerabilities in both runtimes' lock files, against the committed advisory snapshot
# (security/advisories.json; accepted ones with their reasons in security/audit-allow.yml). Offline.
audit: $(VENV)/.installed
	$(PY) scripts/audit_deps.py

# The same lock files through pip-audit and PyPI's vulnerability data: only where that service answers
# (not on this project's machines or CI: there every package reads "not found on PyPI").
audit-online: $(VENV)/.installed
	$(VENV)/bin/pip-audit --no-deps --disable-pip --progress-spinner off -r requirements/rasa.lock
	$(VENV)/bin/pip-audit --no-deps --disable-pip --progress-spinner off -r requirements/service.lock

# Lock files from the installed venvs (what `make test` tested); FRESH=1 resolves pyproject.toml anew in
# scratch venvs (the newest versions the pins allow). Then `make audit`, `make install`, `make test`.
lock:
	@scripts/lock_deps.sh

# The set-up steps' times, for the summary the launcher prints once everything runs.
setup-clock:
	@mkdir -p $(VAR_DIR)/run && : >$(VAR_DIR)/run/setup-times.tsv

# A second `make run` says which one runs, before installing or training anything.
not-running:
	@test ! -x $(PY) || $(PY) -m bot.devtools.launcher --check

run: not-running setup-clock install train
	@$(PY) -m bot.devtools.launcher

# The action server alone, for Rasa's own CLI in another terminal (`rasa shell`, `rasa run`; README,
# "For Rasa developers"): it leaves its secret where Rasa looks for it.
actions: install
	@$(PY) -m bot.devtools.actions

shell: install train
	@$(PY) -m bot.devtools.shell

test: install lint audit validate train test-unit test-stories test-nlu
	@echo "==> all tests passed"

# Everything but the services, the trained model and the browser: lint and the unit tests of both
# runtimes (pytest markers e2e, browser, model, slow; pyproject.toml says what each means). Under 5 minutes.
QUICK := -m "not e2e and not browser and not model and not slow"
test-quick: install lint
	@$(STEP) "quick tests, runtime A (Rasa side)" $(VENV_RASA)/bin/pytest -q $(QUICK) $(TESTS_RASA)
	@$(STEP) "quick tests, runtime B (actions, services)" $(VENV)/bin/pytest -q $(QUICK) \
		$(addprefix --ignore=,$(TESTS_RASA))

# Runtime B prints its 15 slowest set-ups and tests: where `make test`'s time goes (README, Tests).
test-unit: install train browser
	@$(STEP) "tests, runtime A (Rasa side)" $(VENV_RASA)/bin/pytest -q -m "not soak" $(TESTS_RASA) \
		$(addprefix --ignore=,$(TESTS_RASA_OWN))
	@$(STEP) "tests, runtime A (the Rasa server as it runs)" $(VENV_RASA)/bin/pytest -q -m "not soak" \
		$(TESTS_RASA_OWN)
	@$(STEP) "tests, runtime B (actions, services, end to end, browser)" $(VENV)/bin/pytest -q -m "not soak" --durations=15 \
		$(addprefix --ignore=,$(TESTS_RASA))

# The long load and soak runs (pytest marker `soak`) that `make test` leaves out for a shorter test of
# the same thing: a model swapped into two replicas under load (about 11 minutes). All are in runtime B.
test-soak: install train browser
	@$(STEP) "soak tests, runtime B" $(VENV)/bin/pytest -q -m soak $(addprefix --ignore=,$(TESTS_RASA))

test-stories: train
	@echo "==> story tests (every rule and story)"
	$(RASA) test core --model $(MODEL) --stories tests/test_stories.yml --fail-on-prediction-errors \
		--out results/stories
test-nlu: train
	@echo "==> NLU quality gate on the held-out set in tests/nlu/"
	$(RASA) test nlu --model $(MODEL) --nlu tests/nlu --out results/nlu
	$(PY) scripts/nlu_gate.py results/nlu/intent_report.json --min-f1 0.93

# The data-quality report for content editors (scripts/nlu_quality.py; README, "The data-quality report"):
# cross-validated confusions (10-15 minutes), near-duplicates, contradictions, thin or uniform intents,
# held-out leaks. Exits 0 whenever it ran: it is a report. Written to results/nlu_quality/report.md.
NLU_REPORT_ARGS ?=
nlu-report: train
	$(PY_RASA) scripts/nlu_quality.py $(NLU_REPORT_ARGS)

# Issue 17's regression report of changed NLU data (scripts/nlu_check.py, `bot nlu check`): trains the model
# of data/ as `make train` would (same name and cache, without pointing models/current.tar.gz at it; minutes;
# not when the inputs are the served model's), reads the held-out set with the served model and with it,
# writes results/nlu_check/report.md and report.json. Exit 1: not safe.
# Not after `train`: that would retrain models/current.tar.gz on the changed data, and the check would
# compare the change with itself. It needs only the encoder `train` exports (a no-op when it is there).
NLU_CHECK_ARGS ?=
nlu-check: install
	@$(PY) scripts/export_encoder.py models/encoder
	$(PY_RASA) scripts/nlu_check.py $(NLU_CHECK_ARGS)

# Issue 24's table (bench/run_all.py): ports 5310-5370 (project), 5320/5325 (stock Rasa), 5305-5395
# (the older figures); the stock models are trained once into var/bench/, server logs go there too.
bench: install train
	$(PY) -m bench.run_all $(BENCH_ARGS)

# Each NLU component, policy, tracker-store call and action call of a turn, timed inside the Rasa
# server's code path (bench/turn_profile.py); PROFILE_ARGS=--stock for Rasa as it comes.
# Ports 5605-5695. Figures: results/turn_profile.json; the write-up: bench/PROFILE.md.
PROFILE_ARGS ?=
bench-profile: install train
	$(PY) -m bench.profile $(PROFILE_ARGS)

# The same 20-conversation Messenger load several times on one stack (bench/rounds.py), to judge a change
# against the machine's noise; ROUNDS_ARGS="--rounds 6 --demo --profile var/bench/gil.txt --timeline
# var/bench/turns.jsonl" (--timeline: where each turn's time went, stage by stage). Ports as bench.
ROUNDS_ARGS ?=
bench-rounds: install train
	$(PY) -m bench.rounds $(ROUNDS_ARGS)

# Fault and load harness (issue 13): 2 Rasa replicas on PostgreSQL + Redis while replicas, the action
# server and the platform fail, then `make run`'s stack SIGKILLed at once; exits 1 on any lost, duplicated
# or out-of-order message. Ports 5800-5849, database loom_fault, Redis db 12; FAULT_ARGS=--short for the
# CI size. Figures: var/bench/fault_harness.json.
FAULT_ARGS ?=
fault: install train
	$(PY) -m bench.fault_harness $(FAULT_ARGS)

# Understanding alone (bench/parse_latency.py): every held-out message through the NLU pipeline, one at a
# time and in batches of 8, per component; NLU_BASELINE=path/to/model.tar.gz measures a second model in
# the same run. Figures: results/parse_latency.json.
NLU_BASELINE ?=
bench-nlu: install train
	$(PY_RASA) -m bench.parse_latency $(if $(NLU_BASELINE),--baseline $(NLU_BASELINE))

# Webhook acknowledgement latency at a fixed rate (ACK_ARGS, e.g. --rate 200 --seconds 20 --engine redis),
# straight at a Rasa server and through connectors.ingress; ports 5950-5974, database loom_ack_bench,
# Redis db 14. Figures: var/bench/ack_latency.json.
bench-ack: install train
	$(PY) -m bench.ack_latency $(ACK_ARGS)

clean:
	rm -rf results .pytest_cache .ruff_cache

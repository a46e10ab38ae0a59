# Two commands for a newcomer: `make run` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip compiles every installed module to bytecode one file at a time, a third of a fresh install here;
# compileall does the same on every core afterwards.
PIP_INSTALL := $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-compile
COMPILE := $(BIN)/python -m compileall -q -j0 $(VENV)/lib

.PHONY: install install-test run test test-fast lint bench

install: $(VENV)/.installed

# A venv with a current pip: the pip a venv brings (23.2 with Python 3.11) spends most of an install
# checking the wheel tags of every release of every dependency, and putting it in takes seconds itself.
# The pip that runs make installs a current one into a bare venv; ensurepip is the fallback without one.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/pip || { $(PYTHON) -m venv --without-pip $(VENV) && $(PYTHON) -m pip --python $(BIN)/python \
		install --quiet --disable-pip-version-check --no-compile pip; } || { $(PYTHON) -m venv --clear $(VENV) \
		&& $(PIP_INSTALL) --upgrade pip; }
	$(PIP_INSTALL) -e .
	$(COMPILE)
	touch $@

install-test: $(VENV)/.installed-test

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP_INSTALL) -e '.[test]'
	$(COMPILE)
	touch $@

# The embedded defaults: codes are printed to the terminal instead of sent, pending codes live in memory,
# tokens are signed with a development key made once into a git-ignored file, and the cookie goes over
# plain http. `make run PORT=8080 HOST=0.0.0.0` serves elsewhere; a change to the code reloads the server.
DEV_KEY := .otp-dev-signing-key.pem
HOST ?= 127.0.0.1
PORT ?= 5000

run: install
	test -f $(DEV_KEY) || $(BIN)/flask otp keygen --out $(DEV_KEY) >/dev/null
	OTP_PROVIDER=console OTP_STORE_URL=memory:// OTP_LOG_FORMAT=text OTP_COOKIE_SECURE=false \
	OTP_TOKEN_PRIVATE_KEY=$(DEV_KEY) OTP_TOKEN_ISSUER=http://$(HOST):$(PORT) \
	$(BIN)/flask --app wsgi run --host $(HOST) --port $(PORT) --reload

test: install-test
	$(BIN)/python -m pytest

# The suite without the tests marked slow (gunicorn, Chromium, real waits), for a quick local loop; CI and
# `make test` run everything.
test-fast: install-test
	$(BIN)/python -m pytest -m "not slow"

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The performance issue's runs: CPU per request beside the tutorial app (one provider, then Twilio second
# with Vonage healthy), the floor under them (the bare SDK call, then as a bare Flask app's routes, each also
# with the three Redis round trips any version needs; then the start and the check with the duties each has:
# a limit, the number's screening (a start's), an event line, metrics; the start also at 1000 ms), start
# time, worker memory and an outage (needs ../shared, node, wrk and Redis). BENCHMARKS.md records them.
bench: install
	$(BIN)/python ../shared/bench/bench.py --probe seed project
	$(BIN)/python ../shared/bench/bench.py --latency 1000 --conns 256 --probe --request-only seed project
	$(BIN)/python ../shared/bench/bench.py --twilio --probe seed project
	$(BIN)/python ../shared/bench/bench.py --twilio --latency 1000 --conns 256 --probe --request-only seed project
	$(BIN)/python bench/floor.py --trips 3 --flask
	FLOOR_DUTIES=1 $(BIN)/python bench/floor.py --trips 3 --flask
	FLOOR_DUTIES=1 $(BIN)/python bench/floor.py --trips 3 --flask --latency 1000 --conns 256 --request-only
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/rss_under_load.py
	$(BIN)/python bench/failover_outage.py

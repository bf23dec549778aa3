# The two commands a new machine needs:
#   make run    install into .venv and start tracker on the embedded default (demo shop + dashboard)
#   make test   install everything the tests need (Chromium included) and run the whole suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
DATA   ?= ./var

.PHONY: run test install install-test chromium bench lock clean

$(VENV)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tracker needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/tracker serve --demo --data $(DATA) --port $(PORT)

chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(PY) -m pip install --quiet -r requirements-test.lock
	touch $@

install-test: $(VENV)/.installed-test chromium

test: install-test
	$(PY) -m pytest -q

bench: install
	@command -v wrk >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); $$SUDO apt-get install -y -qq wrk >/dev/null; }
	$(PY) loadtests/bench_collect.py
	$(PY) loadtests/bench_import.py

# Re-pin: resolve pyproject's ranges in clean venvs and freeze what was tested
# (requirements.lock: running tracker; requirements-test.lock: that plus the test tools).
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/pip install --quiet .
	.lockenv/bin/pip freeze --exclude tracker > requirements.lock
	.lockenv/bin/pip install --quiet '.[test]'
	.lockenv/bin/pip freeze --exclude tracker > requirements-test.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) .pytest_cache

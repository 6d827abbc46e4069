# Two commands do everything: `make run` (a working portal on SQLite) and `make test` (every check).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE := cbo_portal.settings

.PHONY: install run test lint typecheck check services chromium sshd worker clean

# Modules mypy checks (with django-stubs) in `make test`: the X12 code, every service, every selector.
TYPED := billing/x12 cbo_portal/fastpath.py referrals/rules.py \
  billing/services cbo_portal/services contracts/services referrals/services \
  billing/selectors.py contracts/selectors.py referrals/selectors.py

install: $(STAMP)  ## Create .venv with everything run and test need (no-op when up to date)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	@touch $(STAMP)

run: install  ## Migrate, load demo data and serve http://127.0.0.1:8000 (SQLite, eager tasks by default)
	@mkdir -p var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py runserver 127.0.0.1:8000

services:  ## Make sure PostgreSQL, Redis, Chromium and sshd are available for the tests
	@bash scripts/ensure-services.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	DATABASE_URL=sqlite:///$(CURDIR)/var/typecheck.sqlite3 $(BIN)/mypy $(TYPED)

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	DJANGO_DEBUG=false SECRET_KEY=check-deploy-$$(head -c 32 /dev/urandom | base64 | tr -dc a-zA-Z0-9) \
	  ALLOWED_HOSTS=billing.example.org CSRF_TRUSTED_ORIGINS=https://billing.example.org \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING
	# The production static files build as docker/Dockerfile builds them (hashed, compressed).
	DJANGO_DEBUG=false SECRET_KEY=collectstatic-only ALLOWED_HOSTS=localhost \
	  $(BIN)/python manage.py collectstatic --no-input --clear -v 0

test: install services lint typecheck check  ## Every check: ruff, migrations, deploy settings, pytest on PostgreSQL, then on SQLite
	@source scripts/test-env.sh && $(BIN)/python -m pytest $(PYTEST_ARGS)
	@echo "The portable path: every test not marked postgresql again, on SQLite (pages in the browser too)"
	@source scripts/test-env.sh && DATABASE_URL=sqlite:///$(CURDIR)/var/test.sqlite3 \
	  $(BIN)/python -m pytest -q -m "not postgresql" $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var/db.sqlite3

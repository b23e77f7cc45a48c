# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
THREADS ?= 8

.PHONY: run test serve bench lint check demo-data clean

$(VENV)/bin/python:
	"$$(bin/find-python)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: the dashboard on the embedded demo Invent at http://$(HOST):$(PORT)
run: export DJANGO_DEBUG ?= 1
run: $(VENV)/.runtime
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py demo_setup --base-url http://$(HOST):$(PORT)
	$(PY) manage.py runserver $(HOST):$(PORT)

## test: the whole suite (unit, contract, view, real-browser and service tests)
test: $(VENV)/.dev
	$(PY) -m pytest

## serve: production server (gunicorn gthread workers per gunicorn.conf.py, WhiteNoise static files)
serve: $(VENV)/.runtime
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py migrate --noinput --verbosity 0
	$(PY) manage.py demo_setup --base-url http://$(HOST):$(PORT)
	$(VENV)/bin/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) --workers $(WORKERS) --threads $(THREADS)

## bench: prints latency, throughput and transfer-size numbers (asserts nothing); BENCH_ARGS=--help
bench: $(VENV)/.runtime
	$(PY) -m benchmarks.run $(BENCH_ARGS)

## bench-cards: the cards rendered by Jinja2 (production) and by Django templates, compared and timed; CARDS_ARGS=--help
.PHONY: bench-cards
bench-cards: $(VENV)/.runtime
	$(PY) -m benchmarks.card_engines $(CARDS_ARGS)

## lint: ruff (lint and format) and mypy
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=1 $(VENV)/bin/mypy timeline_site benchmarks

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 artifacts

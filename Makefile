# Inkwell: `make run` serves the blog, `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# loadfile: a file's tests run on one worker, in order (some build on one another, and the
# machine-setup tests share /etc).
PYTEST_ARGS ?= -n 2 --dist loadfile
STAMP  := $(VENV)/.installed-$(shell cat requirements-dev.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run dev test lint bench drills setup clean lock stack audit container-test vm-test vm-stop

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Inkwell needs Python 3.11 or newer; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock -r requirements-build.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

# A development .env with a fresh random SECRET_KEY; never overwritten once it exists.
.env: | $(STAMP)
	@printf 'INKWELL_ENV=development\nSECRET_KEY=%s\n' "$$($(BIN)/inkwell secret)" > .env
	@echo "Wrote .env (INKWELL_ENV=development, a new random SECRET_KEY)."

setup: $(STAMP) .env
	$(BIN)/inkwell setup

run: setup
	@echo "Inkwell is starting on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	PORT=$(PORT) $(BIN)/gunicorn --bind 127.0.0.1:$(PORT) inkwell.wsgi:app

dev: setup
	PORT=$(PORT) $(BIN)/flask --app inkwell run --debug --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Failure drills under load (reload, killed worker, database outage, soak); ~14 min.
# BENCH_ARGS=--quick for a short smoke run; BENCH_DRILLS=reload,soak picks some.
drills: $(STAMP)
	$(BIN)/python -m bench --only drills --results bench/results/drills $(BENCH_ARGS)

# Re-pin every dependency (needs uv: pip install uv).
lock:
	uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -q -o requirements.lock
	uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 -q -o requirements-dev.lock
	echo "setuptools>=77" | uv pip compile - --generate-hashes --python-version 3.11 -q -o requirements-build.lock

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info

# nginx (TLS from a local CA, static, microcache) -> gunicorn -> SQLite, or PostgreSQL when
# DATABASE_URL says so; Ctrl-C stops it (docs/stack.md).
STACK_HTTP_PORT  ?= 8080
STACK_HTTPS_PORT ?= 8443
STACK_APP_SERVERS ?= 1
stack: $(STAMP) .env
	$(BIN)/inkwell deploy stack --http-port $(STACK_HTTP_PORT) --https-port $(STACK_HTTPS_PORT) \
		--app-servers $(STACK_APP_SERVERS)

# Mozilla HTTP Observatory grade and testssl.sh findings for the stack on 127.0.0.1:80/443.
audit: $(STAMP) .env
	$(BIN)/inkwell deploy audit

# The container path on a real Docker engine: its own dockerd, local stand-in base images, the
# image built from the Dockerfile, run alone and with compose.yaml (docs/compose.md).
container-test: $(STAMP)
	$(BIN)/python -m tests.containers

# A fresh 1 GiB Debian server booted under QEMU: deploy setup to HTTPS (Pebble), git push,
# faults, reboot (docs/vps.md). VM_KEEP=1 leaves it running; `make vm-stop` stops it.
vm-test: $(STAMP)
	$(BIN)/python -m tests.vm

vm-stop: $(STAMP)
	$(BIN)/python -m tests.vm stop

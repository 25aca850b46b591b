# `make demo` and `make test` each set up .venv first. CPU-only machines get the pinned CPU build
# of torch below; on a GPU machine install your CUDA torch into .venv first, or run
# `make TORCH=torch demo`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test install clean-venv

$(BIN)/mtl-hf: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/mtl-hf

demo: install
	$(BIN)/mtl-hf demo

test: install
	$(BIN)/python -m pytest -q

clean-venv:
	rm -rf $(VENV)

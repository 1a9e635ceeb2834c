# Kiln. `make demo` and `make test` work on a fresh machine: they install what is missing.
SWIFT ?= swift
BIN := .build/release
.PHONY: deps venv build build-debug test demo bench clean samples fuzz

deps:
	@scripts/deps.sh

venv: deps
	@scripts/venv.sh

build: deps
	$(SWIFT) build -c release --product prep
	$(SWIFT) build -c release --product tune

build-debug: deps
	$(SWIFT) build --build-tests

test: deps venv
	@scripts/deps.sh test
	$(SWIFT) build --build-tests
	# Every test is a Swift Testing test: without --disable-xctest, XCTest adds "Executed 0 tests".
	KILN_VENV=$(CURDIR)/.venv $(SWIFT) test --skip-build --disable-xctest

demo: build
	@scripts/demo.sh

bench: build venv
	@BIG=$(BIG) bench/run.sh

samples:
	python3 scripts/make-samples.py
	python3 scripts/make-task-samples.py

clean:
	rm -rf .build .build-fuzz out bench/work

# libFuzzer targets (Fuzz/), FUZZ_SECONDS each (default 120): see scripts/fuzz.sh.
fuzz: deps
	@scripts/fuzz.sh

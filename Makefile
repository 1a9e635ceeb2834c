# Kiln. `make demo` and `make test` work on a fresh machine: they install what is missing.
SWIFT ?= swift
BIN := .build/release
.PHONY: deps venv build build-debug test test-asan demo bench clean samples fuzz

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

# The parallel stages under AddressSanitizer and ThreadSanitizer, each in its own scratch path
# so the normal build stays intact. The CLI tests run the sanitized prep and tune beside the test
# bundle. The whole suite under both takes far longer than make test's budget on two cores, so
# this runs the subset below (docs/RELIABILITY.md has the times); SANITIZE_TESTS=. runs everything.
SANITIZE_TESTS ?= KernelsTests|IngestRunTests|ParallelStageTests
test-asan: deps venv
	@scripts/deps.sh test
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 KILN_VENV=$(CURDIR)/.venv $(SWIFT) test --skip-build --disable-xctest \
		--sanitize=address --scratch-path .build-asan --filter '$(SANITIZE_TESTS)'
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS=halt_on_error=1 KILN_VENV=$(CURDIR)/.venv $(SWIFT) test --skip-build --disable-xctest \
		--sanitize=thread --scratch-path .build-tsan --filter '$(SANITIZE_TESTS)'

demo: build
	@scripts/demo.sh

bench: build venv
	@BIG=$(BIG) bench/run.sh

samples:
	python3 scripts/make-samples.py
	python3 scripts/make-task-samples.py

clean:
	rm -rf .build .build-fuzz .build-asan .build-tsan out bench/work

# libFuzzer targets (Fuzz/), FUZZ_SECONDS each (default 120): see scripts/fuzz.sh.
fuzz: deps
	@scripts/fuzz.sh

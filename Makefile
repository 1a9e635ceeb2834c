# Kiln. `make demo` and `make test` work on a fresh machine: they install what is missing.
SWIFT ?= swift
BIN := .build/release
.PHONY: deps venv build build-debug test test-sanitize test-asan demo bench clean samples fuzz

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
	@scripts/sanitize.sh

# The parallel stages and kernels under ThreadSanitizer, without the test suite: Sanitize/'s driver
# runs each on 1 and 3 threads and compares the bytes (2 to 4 minutes from scratch on two cores,
# under a minute after a change; the last step of make test). SANITIZERS="thread address" adds
# AddressSanitizer (another build).
test-sanitize: deps
	@scripts/sanitize.sh

# The parallel stages' tests under AddressSanitizer and ThreadSanitizer, each in its own scratch
# path so the normal build stays intact. The CLI tests run the sanitized prep and tune beside the
# test bundle. Two builds of everything, about 45 minutes from scratch on two cores: not part of
# make test (test-sanitize is), a CI job with the time runs it (KILN_CI_SANITIZERS=1 .ci/run).
# The subset below by default (docs/RELIABILITY.md has the times); SANITIZE_TESTS=. runs everything.
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
	rm -rf .build .build-fuzz .build-sanitize-thread .build-sanitize-address .build-asan .build-tsan out bench/work

# libFuzzer targets (Fuzz/), FUZZ_SECONDS each (default 120): see scripts/fuzz.sh.
fuzz: deps
	@scripts/fuzz.sh

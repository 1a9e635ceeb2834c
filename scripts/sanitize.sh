#!/usr/bin/env bash
# make test-sanitize (and the last step of make test): Kiln's threaded code under ThreadSanitizer
# without building the test suite. Builds Sanitize/'s driver, which imports only the library
# modules it runs, with --sanitize=SANITIZER (debug) into .build-sanitize-SANITIZER, then runs
# every parallel stage on 1 and SANITIZE_THREADS (default 3) threads on samples/ and compares the
# bytes (Sanitize/Sources/parallel-stages/ParallelStages.swift says what runs). A sanitizer's
# report or a stage whose bytes depend on its threads fails it.
#
#   SANITIZERS="thread address" make test-sanitize   # AddressSanitizer too (another build)
#
# A ThreadSanitizer build from scratch and its run take 2 to 4 minutes on two cores (times in
# docs/RELIABILITY.md, "Sanitizers"); the test suite under both sanitizers is make test-asan.
set -euo pipefail
cd "$(dirname "$0")/.."

for sanitizer in ${SANITIZERS:-thread}; do
    # Options given in the environment come last and win.
    case $sanitizer in
        thread) export TSAN_OPTIONS="halt_on_error=1 ${TSAN_OPTIONS:-}" ;;
        # The Swift runtime's caches read as leaks at exit.
        address) export ASAN_OPTIONS="detect_leaks=0 ${ASAN_OPTIONS:-}" ;;
        *) echo "sanitize: unknown sanitizer '$sanitizer' (thread or address)" >&2; exit 2 ;;
    esac
    scratch=.build-sanitize-$sanitizer
    mkdir -p "$scratch"
    echo "sanitize ($sanitizer): building Sanitize/ into $scratch (a first build takes minutes)" >&2
    start=$SECONDS
    if ! swift build --package-path Sanitize --scratch-path "$scratch" --sanitize="$sanitizer" --product parallel-stages \
            > "$scratch/build.log" 2>&1; then
        grep -E "error:" "$scratch/build.log" >&2 || tail -20 "$scratch/build.log" >&2
        echo "sanitize ($sanitizer): the build failed (log: $scratch/build.log)" >&2
        exit 2
    fi
    echo "sanitize ($sanitizer): built in $((SECONDS - start))s; running the stages" >&2
    rm -rf "$scratch/work"
    start=$SECONDS
    "$scratch/debug/parallel-stages" . "$scratch/work" "${SANITIZE_THREADS:-3}"
    echo "sanitize ($sanitizer): ran in $((SECONDS - start))s" >&2
done

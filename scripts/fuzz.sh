#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets of Fuzz/ with AddressSanitizer, runs each one for
# FUZZ_SECONDS (default 120) and prints a table: executions, coverage (libFuzzer's cov: and ft:
# from its last status line) and findings (crash-, timeout-, oom- and leak- files).
#
#   FUZZ_SECONDS=60 make fuzz                  # a shorter run
#   FUZZ_TARGETS="gzip zstd" make fuzz         # some targets only
#
# Each target's corpus grows in .build-fuzz/work/TARGET (seeded from Fuzz/corpus/TARGET, which
# scripts/fuzz-seeds.py makes from samples/); findings go to .build-fuzz/findings/TARGET, logs to
# .build-fuzz/logs, the table to .build-fuzz/fuzz-report.md. Exit status 1 when anything was found.
# A finding replays with: SWIFT_BACKTRACE=enable=no .build-fuzz/debug/fuzz-TARGET FILE
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${FUZZ_SECONDS:-120}
SCRATCH=.build-fuzz
# Target, and the longest input libFuzzer makes for it (the reference regex of the pre-tokenizer
# target is slow: short inputs).
ALL_TARGETS="archive:8192 gzip:4096 zstd:4096 warc:8192 html:8192 jsonl:4096 tokenizer-json:8192 vocab-merges:8192
tiktoken:4096 bpe:4096 pretokenizer:256 token-shard:8192 llmc-checkpoint:8192 safetensors:4096 pipeline-yaml:4096
gpt2-tokenizer-bin:8192 hf-config:2048 sft-records:4096 stage-config:4096"

# swiftc keeps only the last -sanitize= it is given: SwiftPM's "-sanitize=fuzzer -sanitize=address"
# compiles with AddressSanitizer and without coverage (libFuzzer then says "no interesting inputs
# ... Is the code instrumented for coverage?"). The -Xswiftc flag comes last and names both;
# --sanitize makes SwiftPM link both runtimes.
mkdir -p "$SCRATCH/logs"
echo "fuzz: building the targets into $SCRATCH (a first build takes minutes)" >&2
if ! swift build --package-path Fuzz --scratch-path "$SCRATCH" -c debug --sanitize=fuzzer --sanitize=address \
        -Xswiftc -sanitize=fuzzer,address > "$SCRATCH/logs/build.log" 2>&1; then
    grep -E "error:" "$SCRATCH/logs/build.log" >&2 || tail -20 "$SCRATCH/logs/build.log" >&2
    echo "fuzz: the build failed (log: $SCRATCH/logs/build.log)" >&2
    exit 2
fi
report="$SCRATCH/fuzz-report.md"
{
    echo "| target | seconds | executions | exec/s | coverage (cov / ft) | corpus | findings |"
    echo "|---|---|---|---|---|---|---|"
} > "$report"
found=0
for entry in $ALL_TARGETS; do
    target=${entry%%:*}
    max_len=${entry##*:}
    if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $target "* ]]; then continue; fi
    work="$SCRATCH/work/$target"
    findings="$SCRATCH/findings/$target"
    log="$SCRATCH/logs/$target.log"
    mkdir -p "$work" "$findings"
    echo "fuzz-$target: ${SECONDS_PER_TARGET}s, inputs up to $max_len bytes" >&2
    start=$(date +%s)
    marker="$SCRATCH/logs/.$target.start"
    touch "$marker"
    # Leaks are not checked: the Swift runtime keeps caches (metadata, strings) that LeakSanitizer
    # reports at exit; memory that grows per input shows as an oom- finding through -rss_limit_mb.
    dict=()
    if [ -f "Fuzz/dict/$target.dict" ]; then dict=(-dict="Fuzz/dict/$target.dict"); fi
    SWIFT_BACKTRACE=enable=no nice "$SCRATCH/debug/fuzz-$target" "$work" "Fuzz/corpus/$target" "${dict[@]}" \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" \
        -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$findings/" > "$log" 2>&1 || true
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    # No status line when a seed fails at once: no coverage, and the run goes on to the next target.
    cov=$(grep -oE "cov: [0-9]+ ft: [0-9]+" "$log" | tail -1 | sed -E 's/cov: ([0-9]+) ft: ([0-9]+)/\1 \/ \2/' || true)
    corpus=$(find "$work" -type f | wc -l)
    files=$(find "$findings" -type f -newer "$marker" \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \))
    if [ -n "$files" ]; then
        found=1
        what=$(echo "$files" | xargs -n1 basename | sed -E 's/-[0-9a-f]{40}$//' | sort | uniq -c | awk '{printf "%s%s %s", sep, $1, $2; sep=", "}')
    else
        what="none"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$target" "$elapsed" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus" "$what" >> "$report"
done
echo
cat "$report"
echo
echo "logs: $SCRATCH/logs; findings: $SCRATCH/findings; table: $report"
exit $found

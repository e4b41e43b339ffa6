#!/usr/bin/env bash
# Runs each fuzz target in tests/fuzz.rs for ${1:-60} seconds (release build, stable Rust).
# Not part of .ci/run, which replays the corpus and a few hundred cases per target.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
for target in fuzz_run_record_loader fuzz_reply_parser fuzz_statement_sanitiser; do
  CHORUS_FUZZ_SECS="$secs" cargo test --release --test fuzz "$target" -- --exact --nocapture
done

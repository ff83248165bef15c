#!/usr/bin/env bash
# make fuzz: each cargo fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS (60; CI: 20), from the
# committed seeds in fuzz/corpus/<target> plus what earlier runs found (target/fuzz-corpus).
# A crash stops the run; its input is in fuzz/artifacts/<target>/, to be fixed and kept as a
# regression seed. cargo fuzz needs the compiler's unstable flags: RUSTC_BOOTSTRAP=1 lets the
# one stable toolchain give them.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
CARGO_FUZZ_VERSION=0.13.2
SECONDS_EACH="${FUZZ_SECONDS:-60}"
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  echo "== installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install -q cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
export RUSTC_BOOTSTRAP=1
echo "== building the fuzz targets"
cargo fuzz build -O >/dev/null 2>&1 || cargo fuzz build -O
passed=0 failed=0
for target in $(cargo fuzz list); do
  work="target/fuzz-corpus/$target"
  mkdir -p "$work"
  echo "== $target, ${SECONDS_EACH} s"
  if cargo fuzz run -O "$target" "$work" "fuzz/corpus/$target" -- \
      -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 >"target/fuzz-$target.log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs' "target/fuzz-$target.log" | tail -1)
    echo "ok   $target: ${runs:-done}, corpus $(ls "$work" | wc -l) inputs"
    passed=$((passed + 1))
  else
    echo "FAIL $target (log: target/fuzz-$target.log, input in fuzz/artifacts/$target/)"
    tail -n 30 "target/fuzz-$target.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

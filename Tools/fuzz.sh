#!/usr/bin/env bash
# Builds sensync-fuzz with libFuzzer (its own scratch path, so the normal build is untouched) and
# runs each target from its seed corpus under Tests/Fuzz/<target>.
#
#   Tools/fuzz.sh [-t SECONDS] [-r RUNS] [-o FOLDER] [TARGET...]
#
#   -t SECONDS  time per target (default 60); -r RUNS stops a target after RUNS inputs instead
#   -o FOLDER   where the corpus grows and crashes are written (default .fuzz); the seed corpus
#               in Tests/Fuzz is only read
#   -s          skip the build (run the binary already in .build-fuzz)
#   TARGET      any of `sensync-fuzz list` (default: all)
#
# Exits non-zero if any target finds a crash, a timeout (10 s) or an input using over 512 MB;
# the input that did is in FOLDER/crashes/<target>/. Replay one with
#   .build/debug/sensync-fuzz replay TARGET FOLDER/crashes/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
runs=""
out=".fuzz"
build=1
while getopts "t:r:o:s" opt; do
  case "$opt" in
    t) seconds="$OPTARG" ;;
    r) runs="$OPTARG" ;;
    o) out="$OPTARG" ;;
    s) build=0 ;;
    *) sed -n '2,17p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(bundle header payload zlib change directory identity keyfile jsonl csv ctf)
fi

if ((build)); then
  echo "==> Building sensync-fuzz with libFuzzer (.build-fuzz)"
  start=$(date +%s)
  swift build -c release --product sensync-fuzz --scratch-path .build-fuzz \
    -Xswiftc -DSENSYNC_FUZZ -Xswiftc -sanitize=fuzzer -Xswiftc -g
  echo "built in $(($(date +%s) - start)) s"
fi
binary="$(swift build -c release --scratch-path .build-fuzz --show-bin-path)/sensync-fuzz"

failed=()
for target in "${targets[@]}"; do
  corpus="$out/corpus/$target"
  crashes="$out/crashes/$target"
  mkdir -p "$corpus" "$crashes"
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  echo "==> $target"
  # FoundationXML loses 72 bytes on every XML parse error (the error domain string it makes in
  # _CFErrorCreateFromXMLInterface is never released), so a long `ctf` run grows by that much per
  # malformed input: 2 GB is room for ten million. Every other target must stay under 512 MB.
  rss=512
  [ "$target" = ctf ] && rss=2048
  # -max_len: the seeds are at most a few KB; 64 KB leaves room to grow past any header field.
  # SWIFT_BACKTRACE=enable=no: else Swift's crash handler runs first and libFuzzer never writes
  # the crashing input.
  if ! SWIFT_BACKTRACE=enable=no SENSYNC_FUZZ_TARGET="$target" "$binary" "${limit[@]}" -max_len=65536 -rss_limit_mb="$rss" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "Tests/Fuzz/$target" \
    >"$out/$target.log" 2>&1; then
    failed+=("$target")
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$out/$target.log" || true
done

if ((${#failed[@]})); then
  echo "Fuzzing found a problem in: ${failed[*]} (see $out/<target>.log and $out/crashes/)" >&2
  exit 1
fi
echo "No crashes."

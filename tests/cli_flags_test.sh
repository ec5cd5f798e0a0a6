#!/usr/bin/env bash
# The executable's flags as an operator mistypes them: every out-of-range value (negative ones
# included, which would wrap around in an unsigned option) is refused with status 2 and a message
# naming the flag, before anything is opened. Usage: cli_flags_test.sh QUANQU_BINARY
set -uo pipefail
bin=${1:?path of the quanqu executable}
failures=0
refused() {  # refused FLAG VALUE: serve must exit 2 and name FLAG
  local out status
  out=$("$bin" serve --database sqlite::memory: "$1" "$2" 2>&1 </dev/null)
  status=$?
  if [ "$status" -ne 2 ] || ! grep -q -- "$1" <<<"$out"; then
    echo "FAIL: $1 $2 gave status $status: $out"
    failures=$((failures + 1))
  fi
}
for v in -1 0 1023 67108865 18446744073709551615; do refused --body-limit "$v"; done
for v in -1 1000001; do refused --max-connections-per-client "$v"; refused --max-connections "$v"; done
for v in -1 0 300001; do refused --plugin-timeout-ms "$v"; done
for v in -1 0 1025; do refused --plugin-threads "$v"; done
for v in -1 3600001; do refused --shutdown-grace-ms "$v"; done
for v in -1 257; do refused --threads "$v"; done
for v in -1 65536; do refused --port "$v"; done
for v in x 1:0 -1:5 1:0.5; do refused --rate-limit-store "$v"; done
for v in -1 9 3600001; do refused --webhook-retry-base-ms "$v"; done
for v in -1 86400001; do refused --webhook-retry-max-ms "$v"; done
for v in 10.0.0.0/33 "not a host!" 1.2.3.4/x; do refused --webhook-allow-hosts "$v"; done
for v in yes 1 ""; do refused --background-work "$v"; done
for v in -1 0 99 3600001; do refused --pickup-hold-hour-ms "$v"; done
# The environment is checked as strictly as the flag.
out=$(QUANQU_MAX_CONNECTIONS=-1 "$bin" serve --database sqlite::memory: 2>&1 </dev/null)
status=$?
if [ "$status" -ne 2 ] || ! grep -q -- "--max-connections" <<<"$out"; then
  echo "FAIL: QUANQU_MAX_CONNECTIONS=-1 gave status $status: $out"
  failures=$((failures + 1))
fi
"$bin" --help >/dev/null || { echo "FAIL: --help"; failures=$((failures + 1)); }
[ "$failures" -eq 0 ] && echo "every bad flag was refused"
exit $((failures > 0))

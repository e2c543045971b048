# Shared by the dump benchmarks (sourced after lib.sh, not run): timing, a JSON field, and one
# asynchronous dump through the server at 127.0.0.1:$PORT with token $TOKEN.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# A string field of a JSON object, without starting an interpreter (the status is polled
# every 20 ms; a Python start-up per poll would itself load the 2 cores).
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }

# dump_once [SOURCE [POLL_S]] -> prints seconds from POST to completed. The status is polled
# every POLL_S (0.02 s when timing one dump; 0.5 s for the back-to-back dumps of the latency
# phase, so that the poller's own processes do not take the CPU the queries are measured on).
dump_once() {
  local start key state source=${1:-internal} poll=${2:-0.02}
  start=$(now)
  key=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H "X-Starbase-Source: $source" -d '{"format":"sql"}' "http://127.0.0.1:$PORT/export/dump" | field progressKey)
  [ -n "$key" ] || { echo "dump not accepted" >&2; exit 1; }
  while :; do
    state=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/export/dump/status/$key" | field status)
    case "$state" in
      completed) break ;;
      failed) echo "dump $key failed" >&2; exit 1 ;;
    esac
    sleep "$poll"
  done
  elapsed "$start" "$(now)"
}

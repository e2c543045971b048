# Shared by the dump benchmarks (sourced after lib.sh, not run): timing, a JSON field, medians,
# and one asynchronous dump through the server at 127.0.0.1:$PORT with token $TOKEN.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# A string field of a JSON object, without starting an interpreter (a Python start-up per
# status poll would itself load the 2 cores).
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
# median N... -> the median, two decimals
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
    END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f", m }'
}
# ratios "A..." "B..." -> each A_i / B_i, space-separated (pairs taken in turn)
ratios() {
  local -a a b; read -r -a a <<<"$1"; read -r -a b <<<"$2"
  local i out=()
  for i in "${!a[@]}"; do out+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.3f", x / y }')"); done
  echo "${out[*]}"
}

# dump_once [SOURCE [POLL_S]] -> prints the dump's wall time in seconds: from the job's
# `createdAt` (the POST accepted) to its `completedAt` (the manifest written), both stamped
# by the server to the millisecond. The status is polled every POLL_S (default 0.25 s), which
# only decides how soon the script notices: the figure does not include the poll's delay,
# and the poller's own processes stay a small load on the 2 cores the dump runs on.
dump_once() {
  local key status state source=${1:-internal} poll=${2:-0.25}
  key=$(curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H "X-Starbase-Source: $source" -d '{"format":"sql"}' "http://127.0.0.1:$PORT/export/dump" | field progressKey)
  [ -n "$key" ] || { echo "dump not accepted" >&2; exit 1; }
  echo "$key" >"$work/last_dump_key"
  while :; do
    status=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/export/dump/status/$key")
    state=$(field status <<<"$status")
    case "$state" in
      completed) break ;;
      failed) echo "dump $key failed" >&2; exit 1 ;;
    esac
    sleep "$poll"
  done
  elapsed "$(date -d "$(field createdAt <<<"$status")" +%s.%N)" \
    "$(date -d "$(field completedAt <<<"$status")" +%s.%N)"
}


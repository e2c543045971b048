# Shared by the dump benchmarks (sourced after lib.sh, not run): timing, medians, and one
# asynchronous dump through the server at 127.0.0.1:$PORT with token $TOKEN.

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
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

# dump_once [SOURCE] -> prints one SQL dump's wall time in seconds, by the server's own
# stamps (bench/dump_loop.py `once`); its key goes to $work/last_dump_key.
dump_once() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/dump_loop.py" "$PORT" "$TOKEN" "${1:-internal}" once "$work/last_dump_key"
}

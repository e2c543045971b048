# Shared by the scripts in bench/ (sourced, not run): a scratch directory `$work` that is
# removed on exit after every process in `pids` is killed (and after `on_exit`, when the
# script defines one), a free loopback port, waiting for an HTTP server, and wrk's latency
# units in milliseconds.

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if declare -F on_exit >/dev/null; then on_exit; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL: until it answers (up to 20 s).
wait_http() {
  for _ in $(seq 1 200); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "server at $1 did not start" >&2; return 1
}

# to_ms "1.23ms" | "456.00us" | "1.02s" -> milliseconds
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

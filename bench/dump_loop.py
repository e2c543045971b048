#!/usr/bin/env python3
"""Background load of the dump benchmarks' latency phases, in one process.

    dump_loop.py PORT TOKEN SOURCE STOP_FILE DUMPS_DIR        dumps back to back
    dump_loop.py PORT TOKEN SOURCE STOP_FILE DUMPS_DIR KEY    the same polls, of a finished job

Until STOP_FILE exists: submit a SQL dump of SOURCE (`POST /export/dump`), poll its status
every 0.5 s on one kept-alive connection until it completes, remove its files from DUMPS_DIR,
and start the next (the one under way when STOP_FILE appears is waited for). With KEY, only poll that (finished) job's status at the same pace: the
idle phase then carries the same load from the benchmark as the phase with dumps.

One process with one connection, not a shell loop: a `curl` and a few text tools started every
0.5 s cost a few milliseconds of CPU each time, at normal priority, and such bursts are what a
p99 over a few seconds picks up.
"""

import http.client
import json
import os
import shutil
import sys
import time

POLL_S = 0.5


def main() -> None:
    port, token, source, stop, dumps = sys.argv[1:6]
    key = sys.argv[6] if len(sys.argv) > 6 else None
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    headers = {"Authorization": f"Bearer {token}", "X-Starbase-Source": source}

    def call(method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        h = dict(headers, **({"Content-Type": "application/json"} if data else {}))
        conn.request(method, path, body=data, headers=h)
        response = conn.getresponse()
        return json.loads(response.read())

    while not os.path.exists(stop):
        if key is not None:
            call("GET", f"/export/dump/status/{key}")
            time.sleep(POLL_S)
            continue
        job = call("POST", "/export/dump", {"format": "sql"})["progressKey"]
        # A dump under way when STOP_FILE appears is waited for: the next phase starts quiet.
        while True:
            state = call("GET", f"/export/dump/status/{job}")["status"]
            if state == "failed":
                sys.exit(f"dump {job} failed")
            if state == "completed":
                break
            time.sleep(POLL_S)
        shutil.rmtree(os.path.join(dumps, job), ignore_errors=True)


if __name__ == "__main__":
    main()

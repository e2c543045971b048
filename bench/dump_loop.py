#!/usr/bin/env python3
"""Dump jobs for the dump benchmarks, submitted and polled from one process.

    dump_loop.py PORT TOKEN SOURCE once KEY_FILE                 one dump, timed
    dump_loop.py PORT TOKEN SOURCE loop STOP_FILE DUMPS_DIR      dumps back to back
    dump_loop.py PORT TOKEN SOURCE loop STOP_FILE DUMPS_DIR KEY  the same polls, of a finished job

`once`: submit a SQL dump of SOURCE (`POST /export/dump`), poll its status until it
completes, write its key to KEY_FILE and print its wall time in seconds: from `createdAt` (the
POST accepted) to `completedAt` (the manifest written), both stamped by the server to the
millisecond, so the poll's pace does not add to it.

`loop`: until STOP_FILE exists, dump as `once` does, remove the job's files from DUMPS_DIR and
start the next (the one under way when STOP_FILE appears is waited for, so the next phase
starts quiet). With KEY, only poll that finished job's status at the same pace: the idle phase
then carries the same load from the benchmark as the phase with dumps.

One process with one kept-alive connection, not a shell loop: a `curl` and a few text tools
started at every poll cost a few milliseconds of CPU each time, at normal priority, which the
idle-class dump threads give way to and a p99 over a few seconds picks up.
"""

import http.client
import json
import os
import shutil
import sys
import time
from datetime import datetime

# While timing one dump the poll only decides how soon the script notices; during latency
# phases the dumps take seconds, and the polls stay a small load.
POLL_S = {"once": 0.1, "loop": 0.5}


class Gateway:
    def __init__(self, port: str, token: str, source: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "X-Starbase-Source": source}

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers, **({"Content-Type": "application/json"} if data else {}))
        self.conn.request(method, path, body=data, headers=headers)
        return json.loads(self.conn.getresponse().read())

    def dump(self, poll_s: float) -> dict:
        """Submits a SQL dump and polls it until it completes; its last status."""
        job = self.call("POST", "/export/dump", {"format": "sql"})["progressKey"]
        while True:
            status = self.call("GET", f"/export/dump/status/{job}")
            if status["status"] == "failed":
                sys.exit(f"dump {job} failed: {status.get('error')}")
            if status["status"] == "completed":
                return status
            time.sleep(poll_s)


def stamp(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def main() -> None:
    port, token, source, mode = sys.argv[1:5]
    gateway = Gateway(port, token, source)
    if mode == "once":
        status = gateway.dump(POLL_S["once"])
        with open(sys.argv[5], "w") as f:
            f.write(status["progressKey"])
        print(f"{stamp(status['completedAt']) - stamp(status['createdAt']):.2f}")
        return
    stop, dumps = sys.argv[5:7]
    key = sys.argv[7] if len(sys.argv) > 7 else None
    while not os.path.exists(stop):
        if key is not None:
            gateway.call("GET", f"/export/dump/status/{key}")
            time.sleep(POLL_S["loop"])
            continue
        status = gateway.dump(POLL_S["loop"])
        shutil.rmtree(os.path.join(dumps, status["progressKey"]), ignore_errors=True)


if __name__ == "__main__":
    main()

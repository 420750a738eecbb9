#!/usr/bin/python3
"""The load client of bench/serve.sh: CONC threads POST /v1/runs to a
zonebox serve on a unix socket, back to back, for SECONDS; prints one JSON
line: runs, errors (answers that are not the expected verdict), the
latencies' p50/p99 in ms, runs per second.
  serve_load.py SOCKET SECONDS CONC echo|mix [LATENCY_FILE]
mix: one request in ten is a timeout (sleep 5 with limits.timeout 200ms,
expects "timeout"), one in ten an OOM (256 MiB in a 64 MiB limit, expects
"oom"), the rest echo (expects "exited" and "hi")."""
import http.client
import json
import socket
import sys
import threading
import time

SOCK, SECONDS, CONC, MODE = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
LAT_FILE = sys.argv[5] if len(sys.argv) > 5 else None
ECHO = ({"command": ["echo", "hi"]}, "exited")
TIMEOUT = ({"command": ["sleep", "5"], "limits": {"timeout": "200ms"}}, "timeout")
OOM = ({"command": ["/usr/bin/python3", "-c", "b = bytearray(256 << 20); print(len(b))"],
        "limits": {"memory": "64M"}}, "oom")


class Conn(http.client.HTTPConnection):
    def __init__(self):
        super().__init__("localhost", timeout=60)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(SOCK)


lock = threading.Lock()
lat, errors, seq = [], [], [0]
deadline = time.monotonic() + SECONDS


def job():
    with lock:
        seq[0] += 1
        n = seq[0]
    if MODE == "mix" and n % 10 == 3:
        return TIMEOUT
    if MODE == "mix" and n % 10 == 7:
        return OOM
    return ECHO


def client():
    c = Conn()
    while time.monotonic() < deadline:
        body, want = job()
        t = time.monotonic()
        try:
            c.request("POST", "/v1/runs", body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            v = json.loads(r.read())
            ok = r.status == 200 and v.get("status") == want and (want != "exited" or v.get("stdout") == "hi\n")
            why = None if ok else "%d %s" % (r.status, v.get("status") or v.get("message"))
        except Exception as e:  # noqa: BLE001 - every failure is an error of the run
            why = repr(e)
            c.close()
            c = Conn()
        with lock:
            lat.append((time.monotonic() - t) * 1000)
            if why:
                errors.append(why)


start = time.monotonic()
threads = [threading.Thread(target=client) for _ in range(CONC)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
lat.sort()
if LAT_FILE:
    with open(LAT_FILE, "w") as f:
        f.write("\n".join("%.3f" % x for x in lat))
pct = lambda p: round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None
print(json.dumps({"runs": len(lat), "errors": len(errors), "first_errors": errors[:3], "p50_ms": pct(0.50),
                  "p99_ms": pct(0.99), "runs_per_s": round(len(lat) / elapsed, 2)}))

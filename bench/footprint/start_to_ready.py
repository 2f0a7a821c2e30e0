#!/usr/bin/env python3
"""Daemon start to ready: launches `localgpt daemon start --foreground` and times from exec to the
first 200 answer of GET /health (polling the pid file for the address every 0.5 ms), N times.
Without HOME, a fresh home (no models) on a free port; with HOME, that home as it is (set its
`server.port` to 0 first).

Usage: start_to_ready.py BINARY [N=10] [HOME]
"""
import os, subprocess, sys, time, http.client, tempfile, statistics
binary = sys.argv[1]
home = sys.argv[3] if len(sys.argv) > 3 else tempfile.mkdtemp()
env = dict(os.environ, LOCALGPT_HOME=home)
if len(sys.argv) <= 3: subprocess.run([binary, "config", "init"], env=env, check=True, capture_output=True)
subprocess.run([binary, "config", "set", "server.port", "0"], env=env, check=True, capture_output=True)
pid_file = os.path.join(home, "state", "daemon.pid")
times = []
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 10):
    if os.path.exists(pid_file): os.remove(pid_file)
    start = time.perf_counter()
    proc = subprocess.Popen([binary, "daemon", "start", "--foreground"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            lines = open(pid_file).read().split("\n")
            if len(lines) > 1 and lines[1]:
                host, port = lines[1].rsplit(":", 1)
                c = http.client.HTTPConnection(host, int(port), timeout=1)
                c.request("GET", "/health"); r = c.getresponse(); r.read()
                if r.status == 200: break
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.0005)
    times.append((time.perf_counter() - start) * 1000)
    proc.terminate(); proc.wait()
print("exec to first /health: median %.1f ms, min %.1f, max %.1f over %d" % (statistics.median(times), min(times), max(times), len(times)))

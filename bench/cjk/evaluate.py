#!/usr/bin/env python3
"""Keyword recall of `localgpt memory search` on the CJK set in tests/data/cjk: recall@5 over the
queries with relevant notes, and how many of the queries that must find nothing did find nothing.

Usage: evaluate.py --localgpt BIN [--data tests/data/cjk]
Makes a throwaway LocalGPT home with the set's notes as daily notes, indexes it (keyword only, no
model needed) and runs every query with `--mode keyword`.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile


def run(binary, home, *args):
    out = subprocess.run([binary, *args], capture_output=True, text=True, check=False,
                         env={"LOCALGPT_HOME": str(home), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"})
    if out.returncode != 0:
        sys.exit(f"localgpt {' '.join(args)} failed: {out.stderr.strip()}")
    return out.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--data", default=str(pathlib.Path(__file__).parents[2] / "tests/data/cjk"))
    args = parser.parse_args()
    data = pathlib.Path(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        home = pathlib.Path(tmp) / "home"
        workspace = pathlib.Path(tmp) / "ws"
        (workspace / "memory").mkdir(parents=True)
        for note in sorted((data / "notes").glob("*.md")):
            (workspace / "memory" / note.name).write_text(note.read_text())
        run(args.localgpt, home, "config", "init")
        run(args.localgpt, home, "config", "set", "memory.workspace", str(workspace))
        run(args.localgpt, home, "memory", "reindex")
        wanted = got = negatives = clean = 0
        for line in (data / "queries.tsv").read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            query, relevant = line.split("\t")
            results = json.loads(run(args.localgpt, home, "memory", "search", query, "--json",
                                     "--limit", "5", "--mode", "keyword"))["results"]
            top = [pathlib.Path(hit["path"]).stem for hit in results]
            if relevant == "-":
                negatives += 1
                clean += not top
                continue
            relevant = relevant.split(",")
            wanted += len(relevant)
            got += sum(note in top for note in relevant)
        print(f"recall@5 {got}/{wanted} = {got / wanted:.3f}; "
              f"queries that must find nothing: {clean}/{negatives} found nothing")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Scores `localgpt memory search --json` on a SMART-format test collection (Cranfield, CISI, MED,
CACM or ADI, in tests/data): nDCG@10 and Recall@10 over the judged queries, for each search mode asked for.

Usage: evaluate.py COLLECTION_DIR --localgpt BIN [--mode hybrid --mode keyword ...] [--json OUT]
The LocalGPT home (with the collection's workspace indexed, see make_workspace.py) comes from
LOCALGPT_HOME.
"""
import argparse
import json
import pathlib
import re
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from collections_smart import detect, judgments, ndcg_at, queries, recall_at  # noqa: E402


def search(binary, query, mode, depth):
    """Document ids in the order `localgpt memory search` ranks them (each file once)."""
    out = subprocess.run(
        [binary, "memory", "search", query, "--json", "--limit", str(depth), "--mode", mode],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        sys.exit(f"localgpt memory search failed for {query!r}: {out.stderr.strip()}")
    ranked = []
    for hit in json.loads(out.stdout)["results"]:
        match = re.search(r"(\d+)\.md$", hit["path"])
        if match and int(match.group(1)) not in ranked:
            ranked.append(int(match.group(1)))
    return ranked


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("collection", type=pathlib.Path)
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--mode", action="append")
    parser.add_argument("--depth", type=int, default=30, help="results asked for, before deduping by file")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    qrels = judgments(args.collection)
    report = {"collection": detect(args.collection)}
    for mode in args.mode or ["keyword", "vector", "hybrid"]:
        ndcgs, recalls, started = [], [], time.time()
        for number, text in queries(args.collection):
            gains = qrels.get(number)
            if not gains:
                continue
            ranked = search(args.localgpt, text, mode, args.depth)
            ndcgs.append(ndcg_at(ranked, gains))
            recalls.append(recall_at(ranked, gains))
        report[mode] = {
            "queries": len(ndcgs),
            "ndcg@10": round(sum(ndcgs) / len(ndcgs), 4),
            "recall@10": round(sum(recalls) / len(recalls), 4),
            "seconds": round(time.time() - started, 1),
        }
        print(f"{report['collection']:9} {mode:8} nDCG@10 {report[mode]['ndcg@10']:.4f}  "
              f"Recall@10 {report[mode]['recall@10']:.4f}  ({report[mode]['queries']} queries, "
              f"{report[mode]['seconds']} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Scores `localgpt memory search` on Cranfield 1400: nDCG@10 (graded gain = 5 - grade) and
Recall@10 over the 225 judged queries, for each search mode asked for.

Usage: evaluate.py CRANFIELD_DIR --localgpt BIN [--mode hybrid --mode keyword ...] [--json OUT]
CRANFIELD_DIR is tests/data/cranfield in this repository.
The LocalGPT home (with the Cranfield workspace indexed) comes from LOCALGPT_HOME.
"""
import argparse
import json
import math
import pathlib
import re
import subprocess
import sys
import time


def load_queries(path):
    """The i-th query in cran.qry is query i in cranqrel, whatever its `.I` number says."""
    queries = []
    for block in re.split(r"^\.I ", path.read_text(), flags=re.M)[1:]:
        text = block.split(".W", 1)[1]
        queries.append(" ".join(text.split()))
    return queries


def load_qrels(path):
    """Maps query number to {doc id: gain}; grades 1..4 give gains 4..1, others are not relevant."""
    qrels = {}
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        query, doc, grade = int(parts[0]), int(parts[1]), int(parts[2])
        if 1 <= grade <= 4:
            qrels.setdefault(query, {})[doc] = 5 - grade
    return qrels


def search(binary, query, mode, depth):
    out = subprocess.run(
        [binary, "memory", "search", query, "--json", "--limit", str(depth), "--mode", mode],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        sys.exit(f"localgpt memory search failed for {query!r}: {out.stderr.strip()}")
    results = json.loads(out.stdout)["results"]
    ranked = []
    for hit in results:
        match = re.search(r"(\d+)\.md$", hit["path"])
        if match and int(match.group(1)) not in ranked:
            ranked.append(int(match.group(1)))
    return ranked


def ndcg_at(ranked, gains, k=10):
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked, gains, k=10):
    return len(set(ranked[:k]) & set(gains)) / len(gains) if gains else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cranfield", type=pathlib.Path)
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--mode", action="append")
    parser.add_argument("--depth", type=int, default=30, help="results asked for, before deduping by file")
    parser.add_argument("--json", type=pathlib.Path)
    args = parser.parse_args()
    queries = load_queries(args.cranfield / "cran.qry")
    qrels = load_qrels(args.cranfield / "cranqrel")
    report = {}
    for mode in args.mode or ["keyword", "vector", "hybrid"]:
        ndcgs, recalls, started = [], [], time.time()
        for number, query in enumerate(queries, start=1):
            gains = qrels.get(number, {})
            if not gains:
                continue
            ranked = search(args.localgpt, query, mode, args.depth)
            ndcgs.append(ndcg_at(ranked, gains))
            recalls.append(recall_at(ranked, gains))
        report[mode] = {
            "queries": len(ndcgs),
            "ndcg@10": round(sum(ndcgs) / len(ndcgs), 4),
            "recall@10": round(sum(recalls) / len(recalls), 4),
            "seconds": round(time.time() - started, 1),
        }
        print(f"{mode:8} nDCG@10 {report[mode]['ndcg@10']:.4f}  Recall@10 {report[mode]['recall@10']:.4f}  "
              f"({report[mode]['queries']} queries, {report[mode]['seconds']} s)", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

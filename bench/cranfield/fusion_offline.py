#!/usr/bin/env python3
"""Compares ways of fusing keyword and vector rankings on Cranfield without refitting anything:
takes each query's keyword and vector results (with scores) once from `localgpt memory search
--json`, then fuses them offline — reciprocal rank (k = 60), min-max normalised sums at several
weights, and z-score normalised sums — and prints nDCG@10 and Recall@10 for each.

Usage: fusion_offline.py CRANFIELD_DIR --localgpt BIN [--depth 100] [--cache runs.json]
The LocalGPT home (with the Cranfield workspace indexed and a model) comes from LOCALGPT_HOME.
Fusion here runs on file-level hits (the command's output), so figures can differ slightly from
the engine's chunk-level fusion; use it to rank methods, then confirm with evaluate.py.
"""
import argparse
import json
import pathlib
import re
import statistics
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from evaluate import load_qrels, load_queries, ndcg_at, recall_at  # noqa: E402


def scored(binary, query, mode, depth):
    out = subprocess.run([binary, "memory", "search", query, "--json", "--limit", str(depth),
                          "--mode", mode], capture_output=True, text=True, check=True)
    ranked = {}
    for hit in json.loads(out.stdout)["results"]:
        match = re.search(r"(\d+)\.md$", hit["path"])
        if match and int(match.group(1)) not in ranked:
            ranked[int(match.group(1))] = hit["score"]
    return list(ranked.items())


def rrf(keyword, vector, k=60.0):
    fused = {}
    for ranking in (keyword, vector):
        for rank, (doc, _) in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank + 1)
    return fused


def weighted(keyword, vector, how, vector_weight):
    """Both rankings normalised over the union of their candidates, as the engine does: an item
    without a keyword match scores 0 there, one below the vector cut-off the lowest vector score."""
    ids = sorted({doc for doc, _ in keyword} | {doc for doc, _ in vector})
    k, v = dict(keyword), dict(vector)
    low_v = min(v.values(), default=0.0)
    fused = {}
    sides = []
    for held, absent in ((k, 0.0), (v, low_v)):
        raw = [held.get(doc, absent) for doc in ids]
        if how == "minmax":
            low, high = min(raw, default=0.0), max(raw, default=0.0)
            span = high - low or 1.0
            sides.append([(score - low) / span for score in raw])
        else:
            mean, spread = statistics.mean(raw), statistics.pstdev(raw) or 1.0
            sides.append([(score - mean) / spread for score in raw])
    for at, doc in enumerate(ids):
        fused[doc] = (1 - vector_weight) * sides[0][at] + vector_weight * sides[1][at]
    return fused


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cranfield", type=pathlib.Path)
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--cache", type=pathlib.Path)
    args = parser.parse_args()
    queries = load_queries(args.cranfield / "cran.qry")
    qrels = load_qrels(args.cranfield / "cranqrel")
    if args.cache and args.cache.exists():
        runs = {int(k): v for k, v in json.loads(args.cache.read_text()).items()}
    else:
        runs = {}
        for number, query in enumerate(queries, start=1):
            if qrels.get(number):
                runs[number] = {mode: scored(args.localgpt, query, mode, args.depth)
                                for mode in ("keyword", "vector")}
        if args.cache:
            args.cache.write_text(json.dumps(runs))
    methods = {"keyword": lambda k, v: dict(k), "vector": lambda k, v: dict(v), "rrf k=60": rrf}
    for weight in (0.3, 0.5, 0.7):
        methods[f"minmax v={weight}"] = lambda k, v, w=weight: weighted(k, v, "minmax", w)
        methods[f"zscore v={weight}"] = lambda k, v, w=weight: weighted(k, v, "zscore", w)
    for name, fuse in methods.items():
        ndcgs, recalls = [], []
        for number, run in runs.items():
            fused = fuse(run["keyword"], run["vector"])
            ranked = [doc for doc, _ in sorted(fused.items(), key=lambda item: (-item[1], item[0]))]
            ndcgs.append(ndcg_at(ranked, qrels[number]))
            recalls.append(recall_at(ranked, qrels[number]))
        print(f"{name:14} nDCG@10 {sum(ndcgs) / len(ndcgs):.4f}  Recall@10 {sum(recalls) / len(recalls):.4f}")


if __name__ == "__main__":
    main()

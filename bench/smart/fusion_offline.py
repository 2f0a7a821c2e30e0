#!/usr/bin/env python3
"""Compares ways of fusing keyword and vector rankings on any SMART collection (Cranfield, CISI,
MED) without refitting anything: takes each judged query's keyword and vector results (with
scores) once from `localgpt memory search --json`, then fuses them offline (bench/smart/fusion.py: reciprocal rank k = 60, min-max and z-score normalised
sums at several weights) and prints nDCG@10 and Recall@10 for each.

Usage: fusion_offline.py COLLECTION_DIR --localgpt BIN [--depth 100] [--cache runs.json]
The LocalGPT home (with the collection indexed and a model) comes from LOCALGPT_HOME. Fusion here
runs on file-level hits, so figures can differ slightly from the engine's chunk-level fusion.
"""
import argparse
import json
import pathlib
import sys

here = pathlib.Path(__file__).parent
sys.path.insert(0, str(here))
from collections_smart import detect, judgments, ndcg_at, queries, recall_at  # noqa: E402
from fusion import rrf, scored, weighted  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("collection", type=pathlib.Path)
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--cache", type=pathlib.Path)
    args = parser.parse_args()
    qrels = judgments(args.collection)
    if args.cache and args.cache.exists():
        runs = {int(k): v for k, v in json.loads(args.cache.read_text()).items()}
    else:
        runs = {number: {mode: scored(args.localgpt, text, mode, args.depth) for mode in ("keyword", "vector")}
                for number, text in queries(args.collection) if qrels.get(number)}
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
        print(f"{detect(args.collection):9} {name:14} nDCG@10 {sum(ndcgs) / len(ndcgs):.4f}  "
              f"Recall@10 {sum(recalls) / len(recalls):.4f}")


if __name__ == "__main__":
    main()

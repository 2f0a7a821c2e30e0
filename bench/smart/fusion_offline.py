#!/usr/bin/env python3
"""Compares ways of fusing keyword and vector rankings on any SMART collection (Cranfield, CISI,
MED) without refitting anything: takes each judged query's keyword and vector results (with
scores) once from `localgpt memory search --json`, then fuses them offline (bench/smart/fusion.py: reciprocal rank k = 60, min-max and z-score normalised
sums at several weights, and the per-query schemes in fusion.METHODS) and prints nDCG@10 and
Recall@10 for each. bench/smart/fusion_table.py compares the cached runs of several collections.

Usage: fusion_offline.py COLLECTION_DIR --localgpt BIN [--depth 100] [--cache runs.json] [--chunks]
The LocalGPT home (with the collection indexed and a model) comes from LOCALGPT_HOME. By default
fusion runs on file-level hits (each file's best chunk), so figures can differ from the engine's;
--chunks fetches chunk-level runs and fuses chunks as the engine does (100 of each side, the
engine's depth), each file then ranked by its best fused chunk.
"""
import argparse
import json
import pathlib
import sys

here = pathlib.Path(__file__).parent
sys.path.insert(0, str(here))
from collections_smart import detect, judgments, ndcg_at, queries, recall_at  # noqa: E402
from fusion import METHODS, ranked_docs, scored, scored_chunks, weighted  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("collection", type=pathlib.Path)
    parser.add_argument("--localgpt", required=True)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--cache", type=pathlib.Path)
    parser.add_argument("--chunks", action="store_true", help="chunk-level runs, fused as the engine does")
    args = parser.parse_args()
    qrels = judgments(args.collection)
    if args.cache and args.cache.exists():
        runs = {int(k): v for k, v in json.loads(args.cache.read_text()).items()}
    else:
        runs = {}
        for number, text in queries(args.collection):
            if not qrels.get(number):
                continue
            if args.chunks:
                (keyword, docs), (vector, more) = (scored_chunks(args.localgpt, text, mode, args.depth)
                                                   for mode in ("keyword", "vector"))
                runs[number] = {"keyword": keyword, "vector": vector, "docs": {**docs, **more}}
            else:
                runs[number] = {mode: scored(args.localgpt, text, mode, args.depth) for mode in ("keyword", "vector")}
        if args.cache:
            args.cache.write_text(json.dumps(runs))
    methods = dict(METHODS)
    for weight in (0.3, 0.7):
        methods[f"minmax v={weight}"] = lambda k, v, w=weight: weighted(k, v, "minmax", w)
        methods[f"zscore v={weight}"] = lambda k, v, w=weight: weighted(k, v, "zscore", w)
    for name, fuse in methods.items():
        ndcgs, recalls = [], []
        for number, run in runs.items():
            ranked = ranked_docs(run, fuse)
            ndcgs.append(ndcg_at(ranked, qrels[number]))
            recalls.append(recall_at(ranked, qrels[number]))
        print(f"{detect(args.collection):9} {name:16} nDCG@10 {sum(ndcgs) / len(ndcgs):.4f}  "
              f"Recall@10 {sum(recalls) / len(recalls):.4f}")


if __name__ == "__main__":
    main()

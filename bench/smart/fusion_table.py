#!/usr/bin/env python3
"""Every fusion in bench/smart/fusion.py on several collections at once, from runs cached by
fusion_offline.py (`--cache`): nDCG@10 per collection, the mean, and the worst margin over the
better single mode of each collection (the criterion: hybrid ≥ max(keyword, vector) on every
collection); then, per method, a paired per-query comparison with that better single mode and with
`--against` (default `zscore v=0.5`): wins/losses/ties, sign-test p and a bootstrap 95 % interval.

Usage: fusion_table.py COLLECTION_DIR=RUNS.json [COLLECTION_DIR=RUNS.json ...] [--against NAME]
"""
import argparse
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from collections_smart import detect, judgments, ndcg_at  # noqa: E402
from fusion import METHODS, ranked_docs  # noqa: E402
from paired import compare  # noqa: E402


def per_query(runs, qrels, fuse):
    scores = {}
    for number, run in runs.items():
        ranked = ranked_docs(run, fuse)
        scores[number] = ndcg_at(ranked, qrels[number])
    return scores


def mean(scores):
    return sum(scores.values()) / len(scores)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("pairs", nargs="+", help="COLLECTION_DIR=RUNS.json")
    parser.add_argument("--against", default="zscore v=0.5")
    args = parser.parse_args()
    table = {}
    for pair in args.pairs:
        directory, _, cache = pair.partition("=")
        runs = {int(k): v for k, v in json.loads(pathlib.Path(cache).read_text()).items()}
        qrels = judgments(directory)
        table[detect(directory)] = {name: per_query(runs, qrels, fuse) for name, fuse in METHODS.items()}
    names = list(table)
    best = {c: max(("keyword", "vector"), key=lambda side: mean(table[c][side])) for c in names}
    print(f"{'nDCG@10':16}" + "".join(f"{c:>10}" for c in names) + f"{'mean':>9}  worst margin over the better single mode")
    for method in METHODS:
        values = [mean(table[c][method]) for c in names]
        margin = min(mean(table[c][method]) - mean(table[c][best[c]]) for c in names)
        print(f"{method:16}" + "".join(f"{v:10.4f}" for v in values) + f"{sum(values) / len(values):9.4f}  {margin:+.4f}")
    for reference in ("best", args.against):
        label = "the better single mode" if reference == "best" else reference
        print(f"\npaired against {label}: wins/losses/ties, sign-test p, bootstrap 95 % interval of the mean Δ")
        for method in METHODS:
            if method in ("keyword", "vector") or method == reference:
                continue
            cells = []
            for c in names:
                other = table[c][best[c] if reference == "best" else reference]
                r = compare(table[c][method], other)
                cells.append(f"{c} {r['wins']}/{r['losses']}/{r['ties']} p={r['p']:.2f} "
                             f"[{r['low']:+.3f},{r['high']:+.3f}]")
            print(f"  {method:16} " + "  ".join(cells))


if __name__ == "__main__":
    main()

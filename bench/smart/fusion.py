"""Fusion methods for offline comparisons (bench/smart/fusion_offline.py): each judged query's
keyword and vector results, with scores, from `localgpt memory search --json`, fused by reciprocal
rank (k = 60) or by min-max / z-score normalised sums at a given vector weight."""
import json
import re
import statistics
import subprocess

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


"""Fusion methods for offline comparisons (bench/smart/fusion_offline.py, fusion_table.py): each
judged query's keyword and vector results, with scores, from `localgpt memory search --json`, fused
by reciprocal rank (k = 60), by min-max / z-score normalised sums at a given vector weight, or by
one of the un-fitted per-query schemes tried for issue 21 (CombMNZ, z-scores over each side's own
list, weights from each side's confidence or from how far the sides agree, vector order with keyword
tie-breaking). `METHODS` names them all; `agreement` is what the engine does by default
(crates/memory/src/fusion.rs, `Fusion::Agreement`; `confidence` is `Fusion::Confidence`), per
file, as file-level runs do here."""
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


def scored_chunks(binary, query, mode, depth):
    """[(chunk id, score)] as the engine fuses them, and {chunk id: doc id}."""
    out = subprocess.run([binary, "memory", "search", query, "--json", "--limit", str(depth),
                          "--mode", mode], capture_output=True, text=True, check=True)
    ranking, docs = [], {}
    for hit in json.loads(out.stdout)["results"]:
        match = re.search(r"(\d+)\.md$", hit["path"])
        if match:
            ranking.append((hit["chunk_id"], hit["score"]))
            docs[hit["chunk_id"]] = int(match.group(1))
    return ranking, docs


def ranked_docs(run, fuse):
    """Document ids best first from one query's cached run and a fusion. A file-level run (lists of
    [doc, score]) is fused as is; a chunk-level run (`--chunks`: lists of [chunk, score] and a
    "docs" map) is fused over chunks, as the engine does, each document then taking the place of
    its best chunk."""
    fused = fuse([tuple(hit) for hit in run["keyword"]], [tuple(hit) for hit in run["vector"]])
    order = [item for item, _ in sorted(fused.items(), key=lambda item: (-item[1], item[0]))]
    if "docs" not in run:
        return order
    docs = {int(chunk): doc for chunk, doc in run["docs"].items()}
    ranked = []
    for chunk in order:
        if docs[chunk] not in ranked:
            ranked.append(docs[chunk])
    return ranked


def rrf(keyword, vector, k=60.0):
    fused = {}
    for ranking in (keyword, vector):
        for rank, (doc, _) in enumerate(ranking):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k + rank + 1)
    return fused


def union_z(keyword, vector):
    """Candidate ids (the union) and both sides' z-scores over them, as the engine computes them:
    an item without a keyword match scores 0 there, one below the vector cut-off the lowest vector
    score."""
    ids = sorted({doc for doc, _ in keyword} | {doc for doc, _ in vector})
    k, v = dict(keyword), dict(vector)
    low_v = min(v.values(), default=0.0)
    sides = []
    for held, absent in ((k, 0.0), (v, low_v)):
        raw = [held.get(doc, absent) for doc in ids]
        mean = statistics.mean(raw) if raw else 0.0
        spread = (statistics.pstdev(raw) if raw else 0.0) or 1.0
        sides.append([(score - mean) / spread for score in raw])
    return ids, sides[0], sides[1]


def mix(ids, kz, vz, vector_weight):
    return {doc: (1 - vector_weight) * kz[at] + vector_weight * vz[at] for at, doc in enumerate(ids)}


def weighted(keyword, vector, how, vector_weight):
    """Both rankings normalised over the union of their candidates (see `union_z`), min-max or
    z-score, and added with the given vector weight."""
    if how == "zscore":
        return mix(*union_z(keyword, vector), vector_weight)
    ids = sorted({doc for doc, _ in keyword} | {doc for doc, _ in vector})
    k, v = dict(keyword), dict(vector)
    low_v = min(v.values(), default=0.0)
    sides = []
    for held, absent in ((k, 0.0), (v, low_v)):
        raw = [held.get(doc, absent) for doc in ids]
        low, high = min(raw, default=0.0), max(raw, default=0.0)
        span = high - low or 1.0
        sides.append([(score - low) / span for score in raw])
    return mix(ids, sides[0], sides[1], vector_weight)


def confidence(keyword, vector):
    """z-scores over the union, each side weighted per query by its confidence: the z-score of its
    best candidate (at least 0)."""
    ids, kz, vz = union_z(keyword, vector)
    ck, cv = max(max(kz, default=0.0), 0.0), max(max(vz, default=0.0), 0.0)
    return mix(ids, kz, vz, cv / (ck + cv) if ck + cv > 0 else 0.5)


def confidence_gap(keyword, vector, depth=10):
    """As `confidence`, a side's confidence being the drop from its first to its tenth score, over
    the spread of its own scores."""
    def gap(ranking):
        scores = [score for _, score in ranking]
        if len(scores) < 2:
            return 0.0
        return (scores[0] - scores[min(depth, len(scores)) - 1]) / (statistics.pstdev(scores) or 1.0)
    ids, kz, vz = union_z(keyword, vector)
    ck, cv = gap(keyword), gap(vector)
    return mix(ids, kz, vz, cv / (ck + cv) if ck + cv > 0 else 0.5)


def agreement(keyword, vector, top=10):
    """z-scores over the union, a side weighing 1 + the number of its top ten that the other side
    found at all: the side whose best results the other corroborates counts more. The engine's
    default."""
    ids, kz, vz = union_z(keyword, vector)
    kset, vset = {doc for doc, _ in keyword}, {doc for doc, _ in vector}
    ak = 1 + sum(1 for doc, _ in keyword[:top] if doc in vset)
    av = 1 + sum(1 for doc, _ in vector[:top] if doc in kset)
    return mix(ids, kz, vz, av / (ak + av))


def agreement_rank(keyword, vector, top=10):
    """As `agreement`, each corroborated hit counting 1 / (1 + its rank on the other side / 10)."""
    ids, kz, vz = union_z(keyword, vector)
    krank = {doc: rank for rank, (doc, _) in enumerate(keyword)}
    vrank = {doc: rank for rank, (doc, _) in enumerate(vector)}
    ak = 1 + sum(1 / (1 + vrank[doc] / top) for doc, _ in keyword[:top] if doc in vrank)
    av = 1 + sum(1 / (1 + krank[doc] / top) for doc, _ in vector[:top] if doc in krank)
    return mix(ids, kz, vz, av / (ak + av))


def combmnz(keyword, vector):
    """CombMNZ: each side min-max normalised over its own list, summed, times the number of sides
    that hold the item."""
    def own(ranking):
        scores = [score for _, score in ranking]
        if not scores:
            return {}
        low, high = min(scores), max(scores)
        return {doc: (score - low) / (high - low) if high > low else 1.0 for doc, score in ranking}
    k, v = own(keyword), own(vector)
    return {doc: (k.get(doc, 0.0) + v.get(doc, 0.0)) * ((doc in k) + (doc in v)) for doc in set(k) | set(v)}


def z_own(keyword, vector):
    """z-scores over each side's own list (an item a side lacks gets that side's lowest), equal
    weights."""
    def own(ranking):
        scores = [score for _, score in ranking]
        if not scores:
            return {}, 0.0
        mean, spread = statistics.mean(scores), statistics.pstdev(scores) or 1.0
        z = {doc: (score - mean) / spread for doc, score in ranking}
        return z, min(z.values())
    (k, lk), (v, lv) = own(keyword), own(vector)
    return {doc: 0.5 * k.get(doc, lk) + 0.5 * v.get(doc, lv) for doc in set(k) | set(v)}


def dense_first(keyword, vector):
    """Vector order, the keyword z-score breaking near-ties (cosine + 0.01 × keyword z)."""
    ids, kz, _ = union_z(keyword, vector)
    v = dict(vector)
    low = min(v.values(), default=0.0)
    return {doc: v.get(doc, low) + 0.01 * kz[at] for at, doc in enumerate(ids)}


METHODS = {
    "keyword": lambda k, v: dict(k),
    "vector": lambda k, v: dict(v),
    "rrf k=60": rrf,
    "minmax v=0.5": lambda k, v: weighted(k, v, "minmax", 0.5),
    "zscore v=0.5": lambda k, v: weighted(k, v, "zscore", 0.5),
    "combmnz": combmnz,
    "z own lists": z_own,
    "confidence": confidence,
    "confidence gap": confidence_gap,
    "agreement": agreement,
    "agreement rank": agreement_rank,
    "dense-first": dense_first,
}

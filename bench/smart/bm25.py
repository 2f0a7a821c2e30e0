#!/usr/bin/env python3
"""Plain stemmed BM25, the baseline LocalGPT's keyword search is held to: whole documents (title and
text as one field), lower-cased runs of letters and digits, Porter-stemmed (the `snowballstemmer`
PyPI package, the same algorithm as FTS5's `porter` tokenizer), every query word OR-ed (a word said
twice counts twice), BM25 with k1 = 1.2, b = 0.75 and the non-negative idf log(1 + (N - n + 0.5) /
(n + 0.5)). No chunking, no fusion, nothing fitted. Prints nDCG@10 and Recall@10.

Usage: bm25.py COLLECTION_DIR [--stop]   (pip install snowballstemmer)
--stop also drops the short English stop list that `localgpt memory search` drops.
"""
import argparse
import collections
import math
import pathlib
import re
import sys

import snowballstemmer

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from collections_smart import detect, documents, judgments, ndcg_at, queries, recall_at  # noqa: E402

# The list in crates/memory/src/search.rs (STOP_WORDS).
STOP_WORDS = set("""a an and are as at be been but by can could did do does for from had has have how i
if in into is it its me my of on or our so such that the their them then there these they this those to
was we were what when where which who whom why will with would you your""".split())


def tokens(text, stemmer, stop):
    words = [word.lower() for word in re.findall(r"[^\W_]+", text)]
    return stemmer.stemWords([word for word in words if not (stop and word in STOP_WORDS)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("collection", type=pathlib.Path)
    parser.add_argument("--stop", action="store_true")
    parser.add_argument("--k1", type=float, default=1.2)
    parser.add_argument("--b", type=float, default=0.75)
    args = parser.parse_args()
    stemmer = snowballstemmer.stemmer("porter")
    docs = {doc_id: collections.Counter(tokens(f"{title} {body}", stemmer, args.stop))
            for doc_id, (title, body) in documents(args.collection).items()}
    lengths = {doc_id: sum(counts.values()) for doc_id, counts in docs.items()}
    average = sum(lengths.values()) / len(lengths)
    frequency = collections.Counter(term for counts in docs.values() for term in counts)
    idf = {term: math.log(1 + (len(docs) - n + 0.5) / (n + 0.5)) for term, n in frequency.items()}
    qrels = judgments(args.collection)
    ndcgs, recalls = [], []
    for number, text in queries(args.collection):
        gains = qrels.get(number)
        if not gains:
            continue
        scores = collections.Counter()
        for term in tokens(text, stemmer, args.stop):
            if term not in idf:
                continue
            for doc_id, counts in docs.items():
                tf = counts.get(term)
                if tf:
                    norm = args.k1 * (1 - args.b + args.b * lengths[doc_id] / average)
                    scores[doc_id] += idf[term] * tf * (args.k1 + 1) / (tf + norm)
        ranked = [doc for doc, _ in sorted(scores.items(), key=lambda item: (-item[1], item[0]))]
        ndcgs.append(ndcg_at(ranked, gains))
        recalls.append(recall_at(ranked, gains))
    label = "bm25+stop" if args.stop else "bm25"
    print(f"{detect(args.collection):9} {label:9} nDCG@10 {sum(ndcgs) / len(ndcgs):.4f}  "
          f"Recall@10 {sum(recalls) / len(recalls):.4f}  ({len(ndcgs)} queries)")


if __name__ == "__main__":
    main()

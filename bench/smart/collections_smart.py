"""Reads the SMART-format test collections kept in tests/data (Cranfield, CISI, MED) into one
shape: documents {id: (title, body)}, queries [(number, text)] and judgments {number: {doc: gain}}.

Cranfield's judgments are graded (gain = 5 - grade); CISI's and
MED's are binary (gain 1). A query without judgments is left out by the scripts that score.
"""
import pathlib
import re


def parse_records(text):
    """Yields (id, fields) for each `.I` record; fields maps a letter (T, A, B, W, X) to its text."""
    for block in re.split(r"^\.I ", text, flags=re.M)[1:]:
        head, _, rest = block.partition("\n")
        fields, current = {}, None
        for line in rest.splitlines():
            marker = re.match(r"^\.([A-Z])\s*$", line.rstrip("\r"))
            if marker:
                current = marker.group(1)
                fields[current] = []
            elif current:
                fields[current].append(line.rstrip("\r"))
        yield int(head.strip()), {k: "\n".join(v).strip() for k, v in fields.items()}


def detect(directory):
    """The collection's name from the files in `directory`: cranfield, cisi or med."""
    directory = pathlib.Path(directory)
    for name, marker in (("cranfield", "cran.all.1400"), ("cisi", "CISI.ALL"), ("med", "MED.ALL")):
        if (directory / marker).exists():
            return name
    raise SystemExit(f"{directory} holds none of cran.all.1400, CISI.ALL, MED.ALL")


def documents(directory):
    """{doc id: (title, body)}; the title is empty where the collection has none (MED)."""
    directory = pathlib.Path(directory)
    name = detect(directory)
    source = {"cranfield": "cran.all.1400", "cisi": "CISI.ALL", "med": "MED.ALL"}[name]
    docs = {}
    for doc_id, fields in parse_records((directory / source).read_text(errors="replace")):
        docs[doc_id] = (" ".join(fields.get("T", "").split()), fields.get("W", ""))
    return docs


def queries(directory):
    """[(query number as the judgments count it, text)], in file order."""
    directory = pathlib.Path(directory)
    name = detect(directory)
    source = {"cranfield": "cran.qry", "cisi": "CISI.QRY", "med": "MED.QRY"}[name]
    records = list(parse_records((directory / source).read_text(errors="replace")))
    if name == "cranfield":
        # The i-th query in cran.qry is query i in cranqrel, whatever its `.I` number says.
        return [(at, " ".join(fields.get("W", "").split())) for at, (_, fields) in enumerate(records, start=1)]
    return [(number, " ".join(fields.get("W", "").split())) for number, fields in records]


def judgments(directory):
    """{query number: {doc id: gain}}."""
    directory = pathlib.Path(directory)
    name = detect(directory)
    qrels = {}
    if name == "cranfield":
        for line in (directory / "cranqrel").read_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and 1 <= int(parts[2]) <= 4:
                qrels.setdefault(int(parts[0]), {})[int(parts[1])] = 5 - int(parts[2])
    elif name == "cisi":
        for line in (directory / "CISI.REL").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                qrels.setdefault(int(parts[0]), {})[int(parts[1])] = 1
    else:
        for line in (directory / "MED.REL").read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and int(parts[3]) > 0:
                qrels.setdefault(int(parts[0]), {})[int(parts[2])] = 1
    return qrels


def ndcg_at(ranked, gains, k=10):
    """nDCG@k of a ranked list of doc ids against {doc: gain}."""
    import math
    dcg = sum(gains.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked, gains, k=10):
    """Share of the judged-relevant documents in the first k."""
    return len(set(ranked[:k]) & set(gains)) / len(gains) if gains else 0.0

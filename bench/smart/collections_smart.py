"""Reads the SMART-format test collections kept in tests/data (Cranfield, CISI, MED, CACM, ADI)
into one shape: documents {id: (title, body)}, queries [(number, text)] and judgments
{number: {doc: gain}}.

Cranfield's judgments are graded (gain = 5 - grade); the others' are binary (gain 1). A query
without judgments is left out by the scripts that score.
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


# Each collection's (documents, queries, judgments) file names; the first also tells it apart.
FILES = {
    "cranfield": ("cran.all.1400", "cran.qry", "cranqrel"),
    "cisi": ("CISI.ALL", "CISI.QRY", "CISI.REL"),
    "med": ("MED.ALL", "MED.QRY", "MED.REL"),
    "cacm": ("cacm.all", "query.text", "qrels.text"),
    "adi": ("ADI.ALL", "ADI.QRY", "ADI.REL"),
}


def detect(directory):
    """The collection's name from the files in `directory`: cranfield, cisi, med, cacm or adi."""
    directory = pathlib.Path(directory)
    for name, (marker, _, _) in FILES.items():
        if (directory / marker).exists():
            return name
    known = ", ".join(files[0] for files in FILES.values())
    raise SystemExit(f"{directory} holds none of {known}")


def documents(directory):
    """{doc id: (title, body)}; the title is empty where the collection has none (MED), the body
    where a document is a title only (most of CACM)."""
    directory = pathlib.Path(directory)
    source = FILES[detect(directory)][0]
    docs = {}
    for doc_id, fields in parse_records((directory / source).read_text(errors="replace")):
        docs[doc_id] = (" ".join(fields.get("T", "").split()), fields.get("W", ""))
    return docs


def queries(directory):
    """[(query number as the judgments count it, text)], in file order."""
    directory = pathlib.Path(directory)
    name = detect(directory)
    source = FILES[name][1]
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
    elif name == "med":
        for line in (directory / "MED.REL").read_text().splitlines():
            parts = line.split()
            if len(parts) == 4 and int(parts[3]) > 0:
                qrels.setdefault(int(parts[0]), {})[int(parts[2])] = 1
    else:
        # CACM `query doc 0 0`, ADI `query doc 0 0.000000`: every line is a relevant pair.
        for line in (directory / FILES[name][2]).read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2:
                qrels.setdefault(int(parts[0]), {})[int(parts[1])] = 1
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

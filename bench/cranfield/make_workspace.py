#!/usr/bin/env python3
"""Turns the Cranfield 1400 collection into a LocalGPT workspace: one markdown file per document
(`docs/NNNN.md`, title as heading, then the abstract), so retrieval quality is measured through the
real `localgpt memory search`.

Usage: make_workspace.py CRANFIELD_DIR WORKSPACE_DIR  (the collection is in tests/data/cranfield)
"""
import pathlib
import re
import sys


def parse_records(text):
    """Yields (id, fields) for each `.I` record of a SMART-format file."""
    for block in re.split(r"^\.I ", text, flags=re.M)[1:]:
        head, _, rest = block.partition("\n")
        fields, current = {}, None
        for line in rest.splitlines():
            marker = re.match(r"^\.([TAWB])\s*$", line)
            if marker:
                current = marker.group(1)
                fields[current] = []
            elif current:
                fields[current].append(line)
        yield int(head.strip()), {k: "\n".join(v).strip() for k, v in fields.items()}


def main():
    source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    docs = target / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    count = 0
    for doc_id, fields in parse_records((source / "cran.all.1400").read_text()):
        title = " ".join(fields.get("T", "").split()) or f"Document {doc_id}"
        body = fields.get("W", "")
        (docs / f"{doc_id:04d}.md").write_text(f"# {title}\n\n{body}\n")
        count += 1
    print(f"wrote {count} documents to {docs}")


if __name__ == "__main__":
    main()

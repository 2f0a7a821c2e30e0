#!/usr/bin/env python3
"""Turns a SMART-format test collection (tests/data/cranfield, cisi, med, cacm or adi) into a
LocalGPT workspace: one markdown file per document (`docs/NNNN.md`; the title as heading where the
collection has titles, then the text), so retrieval quality is measured through the real
`localgpt memory search`.

Usage: make_workspace.py COLLECTION_DIR WORKSPACE_DIR
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from collections_smart import documents  # noqa: E402


def main():
    source, target = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    docs = target / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, body) in documents(source).items():
        text = f"# {title}\n\n{body}\n" if title else f"{body}\n"
        (docs / f"{doc_id:04d}.md").write_text(text)
    print(f"wrote {len(documents(source))} documents to {docs}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes N Pi v3 session transcripts of 40 messages each (about 32 KB apiece) into
HOME/state/sessions, for timing `GET /api/sessions` on a home with a long history.

Usage: python3 bench/sessions/make_sessions.py HOME [N]
"""
import json
import sys
import uuid
from pathlib import Path

home = Path(sys.argv[1])
count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
folder = home / "state" / "sessions"
folder.mkdir(parents=True, exist_ok=True)
for n in range(count):
    sid = str(uuid.uuid4())
    lines = [json.dumps({"type": "session", "version": 3, "id": sid,
                         "timestamp": "2026-11-2%dT10:00:00.000Z" % (n % 9), "cwd": "/tmp"})]
    parent = None
    for m in range(40):
        eid = uuid.uuid4().hex[:8]
        if m % 2 == 0:
            message = {"role": "user", "content": "Question %d about topic %d: " % (m, n) + "lorem ipsum " * 40,
                       "timestamp": 0}
        else:
            message = {"role": "assistant", "content": [{"type": "text", "text": "Answer " + "dolor sit amet " * 40}],
                       "model": "gpt-test", "provider": "openai", "stopReason": "stop", "timestamp": 0}
        lines.append(json.dumps({"type": "message", "id": eid, "parentId": parent,
                                 "timestamp": "2026-11-20T10:00:00.000Z", "message": message}))
        parent = eid
    (folder / f"{sid}.jsonl").write_text("\n".join(lines) + "\n")
print(f"{count} sessions in {folder}")

#!/usr/bin/env python3
"""An OpenAI-compatible chat server on 127.0.0.1 for scripts that run a built binary.

Answers every POST (`/v1/chat/completions`, streamed or not) with one fixed sentence and prints its
port on the first line of standard output. Used by scripts/smoke-binary.sh and
bench/footprint/ask-remote.sh. Usage: python3 scripts/openai-scripted-server.py
"""
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["content-length"])))
        text = "Smoke answer from the scripted server."
        if request.get("stream"):
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            for part in (text[:10], text[10:]):
                chunk = {"id": "c1", "object": "chat.completion.chunk", "model": request["model"],
                         "choices": [{"index": 0, "delta": {"content": part}, "finish_reason": None}]}
                self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
            done = {"id": "c1", "object": "chat.completion.chunk", "model": request["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}
            self.wfile.write(b"data: " + json.dumps(done).encode() + b"\n\ndata: [DONE]\n\n")
        else:
            body = json.dumps({"id": "c1", "object": "chat.completion", "model": request["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": text}}],
                               "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()

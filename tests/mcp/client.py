"""Drives LocalGPT's MCP server with the official MCP Python SDK and prints what it saw as JSON.

usage: client.py stdio LOCALGPT_BINARY      (the server is `LOCALGPT_BINARY mcp-server`; the
                                             environment, LOCALGPT_HOME included, is passed on,
                                             with HOME set to MCP_SERVER_HOME when given)
       client.py http URL [TOKEN]           (the daemon's /mcp, with `Authorization: Bearer TOKEN`)

Each step's outcome is recorded (an exception is recorded as {"exception": ...}); the Rust test
that runs this script decides what must hold.
"""

import asyncio
import json
import os
import sys

import mcp.types as types
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

CLIENT_NAME = os.environ.get("MCP_TEST_CLIENT_NAME", "sdk-test-client")

# Paths an attacker would try: out of the workspace, absolute, a planted symlink into ~/.ssh,
# LocalGPT's own config and index, and a NUL byte.
BAD_PATHS = [
    "../../etc/passwd",
    "/etc/passwd",
    "notes/ssh-link.md",
    "notes/ssh-link.md/../../.ssh/id_rsa",
    "../config.toml",
    "../state/memory.sqlite",
    "memory/../../config.toml",
    "MEMORY.md\u0000.txt",
]


def text_of(result):
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def step(report, name, action):
    try:
        report[name] = await action()
    except Exception as problem:  # the test reads what failed
        report[name] = {"exception": f"{type(problem).__name__}: {problem}"}


async def tool(session, name, arguments):
    result = await session.call_tool(name, arguments)
    return {"is_error": bool(result.is_error), "text": text_of(result)}


async def exercise(session):
    report = {}
    init = await session.initialize()
    report["protocol_version"] = init.protocol_version
    report["server_name"] = init.server_info.name
    async def ping():
        await session.send_ping()
        return "pong"

    await step(report, "ping", ping)
    listed = await session.list_tools()
    report["tools"] = sorted(t.name for t in listed.tools)
    await step(report, "search", lambda: tool(session, "memory_search",
                                              {"query": "canoe boathouse", "mode": "keyword", "limit": 5}))
    await step(report, "get", lambda: tool(session, "memory_get",
                                           {"path": "notes/planted.md", "from": 1, "lines": 20}))
    await step(report, "append", lambda: tool(session, "memory_append",
                                              {"text": "The kayak paddle is in the shed."}))
    await step(report, "search_after_append", lambda: tool(session, "memory_search",
                                                           {"query": "kayak paddle", "mode": "keyword"}))
    report["bad_paths"] = {}
    for path in BAD_PATHS:
        try:
            report["bad_paths"][path] = await tool(session, "memory_get", {"path": path})
        except Exception as problem:
            report["bad_paths"][path] = {"exception": f"{type(problem).__name__}: {problem}"}
    await step(report, "unknown_tool", lambda: tool(session, "bash", {"command": "id"}))
    await step(report, "sessions", lambda: tool(session, "sessions_list", {}))
    await step(report, "session_bad_id", lambda: tool(session, "session_read", {"id": "../../config"}))
    if os.environ.get("MCP_TEST_SESSION_ID"):
        await step(report, "session_read", lambda: tool(session, "session_read",
                                                        {"id": os.environ["MCP_TEST_SESSION_ID"]}))

    async def resources():
        listed = await session.list_resources()
        return sorted(str(r.uri) for r in listed.resources)

    await step(report, "resources", resources)

    async def read(uri):
        result = await session.read_resource(uri)
        return "\n".join(getattr(c, "text", "") for c in result.contents)

    await step(report, "read_memory", lambda: read("localgpt://memory/MEMORY.md"))
    report["bad_resources"] = {}
    for uri in ["localgpt://memory/../config.toml", "localgpt://memory/notes/ssh-link.md",
                "file:///etc/passwd", "localgpt://memory/memory/../../config.toml"]:
        try:
            report["bad_resources"][uri] = await read(uri)
        except Exception as problem:
            report["bad_resources"][uri] = {"exception": f"{type(problem).__name__}: {problem}"}

    async def prompts():
        listed = await session.list_prompts()
        got = await session.get_prompt("recall", {"question": "Where is the canoe?"})
        return {"names": [p.name for p in listed.prompts],
                "text": "\n".join(getattr(m.content, "text", "") for m in got.messages)}

    await step(report, "prompt", prompts)
    return report


async def main():
    mode = sys.argv[1]
    info = types.Implementation(name=CLIENT_NAME, version="1.0")
    if mode == "stdio":
        env = dict(os.environ)
        # The server's HOME (its ~/.ssh is what the test protects); the SDK keeps the real one.
        env["HOME"] = env.get("MCP_SERVER_HOME", env.get("HOME", ""))
        params = StdioServerParameters(command=sys.argv[2], args=["mcp-server"], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write, client_info=info, read_timeout_seconds=60) as session:
                report = await exercise(session)
    else:
        headers = {"Authorization": f"Bearer {sys.argv[3]}"} if len(sys.argv) > 3 else None
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(sys.argv[2], http_client=http) as (read, write):
                async with ClientSession(read, write, client_info=info, read_timeout_seconds=60) as session:
                    report = await exercise(session)
    print(json.dumps(report))


asyncio.run(main())

"""Drives HydraCore's /mcp with the official MCP Python SDK (1.x or 2.x lines).

Usage: client.py URL FULL_KEY READONLY_KEY MARKER
Prints one JSON object describing what the server did; the Rust test judges it.
"""
import asyncio
import json
import sys

URL, FULL_KEY, READONLY_KEY, MARKER = sys.argv[1:5]

from session import LINE, RpcError, Session  # noqa: E402 (beside this file)


async def main():
    report = {"line": LINE}
    async with Session(URL, READONLY_KEY) as ro:
        report["protocol"] = ro.protocol
        report["readonly_tools"] = await ro.tools()
    async with Session(URL, FULL_KEY) as s:
        report["full_tools"] = await s.tools()
        report["list"] = await s.call("instances_list", {"limit": 10})
        report["create"] = await s.call("instances_create", {"name": f"mcp-py{LINE}", "config": {"via": "mcp"}})
        report["invalid"] = await s.call("instances_create", {"name": f"BAD {MARKER}", "config": {"m": MARKER}})
        report["denied"] = await s.call(
            "mcp_credentials_create",
            {"name": MARKER, "server_url": "https://x.example.com", "auth_kind": "bearer", "secret": MARKER},
        )
        try:
            await s.call("no_such_tool", {"x": MARKER})
            report["unknown"] = "answered"
        except RpcError as e:
            report["unknown"] = "rpc-error"
    print(json.dumps(report))


asyncio.run(main())

"""Drives HydraCore's /mcp with the official MCP Python SDK (1.x or 2.x lines).

Usage: client.py URL FULL_KEY READONLY_KEY MARKER
Prints one JSON object describing what the server did; the Rust test judges it.
"""
import asyncio
import json
import sys

URL, FULL_KEY, READONLY_KEY, MARKER = sys.argv[1:5]

try:  # the 2.x line
    import httpx2 as httpx
    from mcp import Client, MCPError as RpcError
    from mcp.client.streamable_http import streamable_http_client
    LINE = 2
except ImportError:  # the 1.x line
    import httpx
    from mcp import ClientSession, McpError as RpcError
    from mcp.client.streamable_http import streamable_http_client
    LINE = 1


class Session:
    """One interface over both SDK lines."""

    def __init__(self, key):
        self.key = key

    async def __aenter__(self):
        self.http = httpx.AsyncClient(headers={"X-Api-Key": self.key}, timeout=httpx.Timeout(30, read=60))
        await self.http.__aenter__()
        if LINE == 2:
            self.client = Client(streamable_http_client(URL, http_client=self.http))
            await self.client.__aenter__()
            self.protocol = self.client.session.protocol_version
        else:
            self.transport = streamable_http_client(URL, http_client=self.http)
            read, write, _ = await self.transport.__aenter__()
            self.client = ClientSession(read, write)
            await self.client.__aenter__()
            init = await self.client.initialize()
            self.protocol = init.protocolVersion
        return self

    async def __aexit__(self, *exc):
        await self.client.__aexit__(*exc)
        if LINE == 1:
            await self.transport.__aexit__(*exc)
        await self.http.__aexit__(*exc)

    async def tools(self):
        listed = await self.client.list_tools()
        out = {}
        for t in listed.tools:
            a = t.annotations
            read_only = a.read_only_hint if LINE == 2 else a.readOnlyHint
            schema = t.output_schema if LINE == 2 else t.outputSchema
            out[t.name] = {"read_only": read_only, "has_output_schema": schema is not None}
        return out

    async def call(self, name, args):
        r = await self.client.call_tool(name, args)
        is_error = r.is_error if LINE == 2 else r.isError
        structured = r.structured_content if LINE == 2 else r.structuredContent
        text = r.content[0].text if r.content else ""
        return {"is_error": bool(is_error), "structured": structured, "text": text}


async def main():
    report = {"line": LINE}
    async with Session(READONLY_KEY) as ro:
        report["protocol"] = ro.protocol
        report["readonly_tools"] = await ro.tools()
    async with Session(FULL_KEY) as s:
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

"""One interface over both lines of the official MCP Python SDK (1.x and 2.x)."""

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

    def __init__(self, url, key):
        self.url = url
        self.key = key

    async def __aenter__(self):
        self.http = httpx.AsyncClient(headers={"X-Api-Key": self.key}, timeout=httpx.Timeout(30, read=60))
        await self.http.__aenter__()
        if LINE == 2:
            self.client = Client(streamable_http_client(self.url, http_client=self.http))
            await self.client.__aenter__()
            self.protocol = self.client.session.protocol_version
        else:
            self.transport = streamable_http_client(self.url, http_client=self.http)
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

    async def schemas(self):
        """Every listed tool's input and output schema, as plain JSON."""
        listed = await self.client.list_tools()
        out = {}
        for t in listed.tools:
            if LINE == 2:
                out[t.name] = {"input": t.input_schema, "output": t.output_schema}
            else:
                out[t.name] = {"input": t.inputSchema, "output": t.outputSchema}
        return out

    async def call(self, name, args):
        r = await self.client.call_tool(name, args)
        is_error = r.is_error if LINE == 2 else r.isError
        structured = r.structured_content if LINE == 2 else r.structuredContent
        text = r.content[0].text if r.content else ""
        return {"is_error": bool(is_error), "structured": structured, "text": text}

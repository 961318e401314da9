"""Calls every HydraCore MCP tool with the official MCP Python SDK and checks, with a
JSON Schema 2020-12 validator, each call's arguments against the tool's inputSchema
and its structuredContent against its outputSchema.

Usage: every_tool.py URL KEY (a key holding every scope)
Prints one JSON object: per tool, whether it ran and what the validator said.
"""
import asyncio
import json
import sys

from jsonschema import Draft202012Validator

from session import LINE, Session

URL, KEY = sys.argv[1:3]


def problems(schema, value):
    if schema is None:
        return ["no schema"]
    Draft202012Validator.check_schema(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in Draft202012Validator(schema).iter_errors(value)]


async def main():
    report = {"line": LINE, "tools": {}}
    async with Session(URL, KEY) as s:
        schemas = await s.schemas()

        async def run(name, args):
            got = await s.call(name, args)
            report["tools"][name] = {
                "is_error": got["is_error"],
                "text": got["text"] if got["is_error"] else "",
                "input": problems(schemas[name]["input"], args),
                "output": problems(schemas[name]["output"], got["structured"]),
                "structured": got["structured"],
            }
            return got["structured"] or {}

        context = await run("api_key_context", {})
        created = await run("instances_create", {"name": f"every-tool-{LINE}", "config": {"n": 1}})
        iid = created.get("id")
        await run("instances_list", {"limit": 10})
        await run("instances_get", {"instance_id": iid})
        await run("instances_update", {"instance_id": iid, "name": f"every-tool-{LINE}b"})
        await run("instances_start", {"instance_id": iid})
        await run("instances_stop", {"instance_id": iid})
        await run("instances_logs", {"instance_id": iid, "tail": 50})
        await run("api_keys_list", {})
        await run("api_keys_get", {"key_id": context.get("key_id")})
        await run("api_keys_usage", {"key_id": context.get("key_id"), "since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z"})
        await run("scopes_list", {})
        cred = await run(
            "mcp_credentials_create",
            {"name": f"short-{LINE}", "server_url": "https://mcp.example.com/mcp", "auth_kind": "bearer", "secret": "tiny"},
        )
        await run("mcp_credentials_list", {"limit": 5})
        await run("mcp_call_log_list", {"limit": 5, "order": "desc", "status": "ok"})
        await run(
            "audit_log_list",
            {"action": ["instance.created", "instance.updated"], "order": "desc", "limit": 5},
        )
        await run("mcp_credentials_delete", {"credential_id": cred.get("id")})
        await run("instances_delete", {"instance_id": iid})
        report["listed"] = sorted(schemas)
    print(json.dumps(report))


asyncio.run(main())

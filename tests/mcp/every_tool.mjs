// Calls every HydraCore MCP tool with the official MCP TypeScript SDK, which checks each
// result's structuredContent against the tool's outputSchema and refuses one that does
// not match (-32602). Usage: node every_tool.mjs URL KEY
// Prints one JSON object: per tool, whether the SDK accepted the call.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [url, key] = process.argv.slice(2);
const transport = new StreamableHTTPClientTransport(new URL(url), {
  requestInit: { headers: { "X-Api-Key": key } },
});
const client = new Client({ name: "hydracore-every-tool", version: "1.0.0" });
await client.connect(transport);
const report = { tools: {} };
const { tools } = await client.listTools();
report.listed = tools.map((t) => t.name).sort();

async function run(name, args) {
  try {
    const r = await client.callTool({ name, arguments: args });
    report.tools[name] = { ok: !r.isError, text: r.isError ? JSON.stringify(r.content) : "" };
    return r.structuredContent ?? {};
  } catch (e) {
    report.tools[name] = { ok: false, text: String(e.message ?? e) };
    return {};
  }
}

const context = await run("api_key_context", {});
const created = await run("instances_create", { name: "every-tool-ts", config: { n: 1 } });
await run("instances_list", { limit: 10 });
await run("instances_get", { instance_id: created.id });
await run("instances_update", { instance_id: created.id, name: "every-tool-ts-b" });
await run("instances_start", { instance_id: created.id });
await run("instances_stop", { instance_id: created.id });
await run("instances_logs", { instance_id: created.id, tail: 50 });
await run("api_keys_list", {});
await run("api_keys_get", { key_id: context.key_id });
await run("api_keys_usage", { key_id: context.key_id });
await run("scopes_list", {});
const cred = await run("mcp_credentials_create", {
  name: "short-ts", server_url: "https://mcp.example.com/mcp", auth_kind: "bearer", secret: "tiny",
});
await run("mcp_credentials_list", { limit: 5 });
await run("mcp_call_log_list", { limit: 5, order: "desc", status: "ok" });
await run("audit_log_list", { action: ["instance.created", "instance.updated"], order: "desc", limit: 5 });
await run("mcp_credentials_delete", { credential_id: cred.id });
await run("instances_delete", { instance_id: created.id });
await client.close();
console.log(JSON.stringify(report));

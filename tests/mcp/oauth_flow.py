"""Connects the official MCP Python SDK (1.x or 2.x line) to HydraCore's /mcp with no
credential configured: its OAuth client (`OAuthClientProvider`) discovers the server,
registers (dynamic registration, or a client metadata document this script serves over
HTTPS), sends the person to the authorization URL (Chromium through Playwright,
`tests/browser/consent.py`, signs in and allows; axe-core checks the consent page when
HYDRACORE_AXE names it), exchanges the code, lists tools and
calls them, steps up for a write, refreshes, and after the person revokes the grant in
the console sees the next call refused.

Usage: oauth_flow.py MCP_URL MODE EMAIL PASSWORD PW_PYTHON CONSENT_PY [CERT KEY]
  MODE: dcr | document (the document is served at https://127.0.0.1:<port>/client.json
  with CERT and KEY, a certificate the server trusts).
Prints one JSON report; the Rust test judges it.
"""
import asyncio
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from session import LINE, httpx  # noqa: E402 (beside this file)

from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

if LINE == 2:
    from mcp import Client
    from mcp.client.auth import AuthorizationCodeResult
    from mcp.client.streamable_http import streamable_http_client
else:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

URL, MODE, EMAIL, PASSWORD, PW_PYTHON, CONSENT = sys.argv[1:7]
BASE = URL.rsplit("/mcp", 1)[0]
# Nothing listens here: the browser's arrival is caught by Playwright.
REDIRECT = "http://127.0.0.1:33419/callback"
report = {"line": LINE, "mode": MODE, "consents": []}


class Memory:
    """The SDK's token storage, in memory."""

    def __init__(self):
        self.tokens = None
        self.client = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, info: OAuthClientInformationFull):
        self.client = info


pending = {}


async def redirect_handler(url):
    """The person at the browser: sign in, allow, and land on the redirect URI."""
    out = await asyncio.to_thread(
        subprocess.run,
        [PW_PYTHON, CONSENT, "authorize", url, REDIRECT, EMAIL, PASSWORD]
        + ([os.environ["HYDRACORE_AXE"]] if os.environ.get("HYDRACORE_AXE") else []),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"consent in the browser failed: {out.stderr}\n{out.stdout}")
    seen = json.loads(out.stdout)
    q = urlparse(url).query
    report["consents"].append(
        {"asked": parse_qs(q).get("scope", [""])[0], "allowed": seen["scopes"], "client": seen["client"],
         "resource": parse_qs(q).get("resource", [""])[0]}
    )
    pending["redirect"] = seen["redirect"]


async def callback_handler():
    q = parse_qs(urlparse(pending.pop("redirect")).query)
    if "error" in q:
        raise RuntimeError(f"authorization refused: {q}")
    code, state, iss = q["code"][0], q.get("state", [None])[0], q.get("iss", [None])[0]
    report.setdefault("iss", iss)
    if LINE == 2:
        return AuthorizationCodeResult(code=code, state=state, iss=iss)
    return code, state


def serve_document(cert, key):
    """The client's metadata document, over HTTPS on a port of its own; returns its URL."""
    holder = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(
                {
                    "client_id": holder["url"],
                    "client_name": "SDK test (document)",
                    "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }
            ).encode()
            holder["fetched"] = holder.get("fetched", 0) + 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    holder["url"] = f"https://127.0.0.1:{server.server_address[1]}/oauth/client.json"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return holder


class Connection:
    """One SDK session over an HTTP client that signs in by OAuth."""

    def __init__(self, provider):
        self.http = httpx.AsyncClient(auth=provider, timeout=httpx.Timeout(60, read=120))

    async def __aenter__(self):
        await self.http.__aenter__()
        if LINE == 2:
            self.client = Client(streamable_http_client(URL, http_client=self.http))
            await self.client.__aenter__()
        else:
            self.transport = streamable_http_client(URL, http_client=self.http)
            read, write, _ = await self.transport.__aenter__()
            self.client = ClientSession(read, write)
            await self.client.__aenter__()
            await self.client.initialize()
        return self

    async def __aexit__(self, *exc):
        await self.client.__aexit__(*exc)
        if LINE == 1:
            await self.transport.__aexit__(*exc)
        await self.http.__aexit__(*exc)

    async def tools(self):
        return sorted(t.name for t in (await self.client.list_tools()).tools)

    async def call(self, name, args):
        r = await self.client.call_tool(name, args)
        return {"is_error": bool(r.is_error if LINE == 2 else r.isError)}


async def main():
    storage = Memory()
    document = None
    if MODE == "document":
        document = serve_document(sys.argv[7], sys.argv[8])
    provider = OAuthClientProvider(
        server_url=URL,
        client_metadata=OAuthClientMetadata(
            client_name="SDK test (registered)",
            redirect_uris=[REDIRECT],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=document["url"] if document else None,
    )
    async with Connection(provider) as c:
        report["tools"] = await c.tools()
        report["client_id"] = storage.client.client_id
        report["list"] = await c.call("instances_list", {})
        first = storage.tokens
        report["scope"] = first.scope
        # A write beyond the grant: the server answers 403 insufficient_scope and the
        # SDK asks the person again for the wider scope.
        report["create"] = await c.call("instances_create", {"name": f"oauth-py{LINE}-{MODE}"})
        report["scope_after_step_up"] = storage.tokens.scope
        report["tools_after_step_up"] = await c.tools()
        # The access token expires: the next call refreshes it first.
        before = storage.tokens
        provider.context.token_expiry_time = time.time() - 1
        report["list_after_refresh"] = await c.call("instances_list", {})
        after = storage.tokens
        report["refreshed"] = (
            after.access_token != before.access_token and after.refresh_token != before.refresh_token
        )
        access = after.access_token
    # The person revokes the grant in the console; the token no longer works.
    out = subprocess.run(
        [PW_PYTHON, CONSENT, "revoke", BASE, report["consents"][-1]["client"], EMAIL, PASSWORD]
        + ([os.environ["HYDRACORE_AXE"]] if os.environ.get("HYDRACORE_AXE") else []),
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"revoking in the browser failed: {out.stderr}\n{out.stdout}")
    async with httpx.AsyncClient() as raw:
        res = await raw.post(
            URL,
            headers={
                "Authorization": f"Bearer {access}",
                "Accept": "application/json, text/event-stream",
                "Content-Type": "application/json",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )
        report["after_revoke"] = res.status_code
        report["after_revoke_challenge"] = res.headers.get("www-authenticate", "")
    if document:
        report["document_fetched"] = document.get("fetched", 0)
    print(json.dumps(report))


asyncio.run(main())

"""Drives the console in Chromium (Playwright) as people do: by role and label.

Usage: console.py BASE_URL AXE_JS [SCREENSHOT_DIR]

Walks the whole path: sign up; create an instance and start it; mint a key that may
only read instances and copy it from the page; use it with a plain HTTP client; rotate
it with a 15-minute grace (both work); revoke it (401); add a second person as viewer
and sign in as them (no create or mint controls, a forged POST is 403); a cross-site
POST and a POST without the CSRF token are refused. axe-core checks every page (no
serious or critical violation), and the browser reports no Content-Security-Policy
violation anywhere. With SCREENSHOT_DIR, each page is saved in light and dark.

Exits non-zero with the failed expectation; prints a JSON report on success.
"""
import json
import sys
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

BASE = sys.argv[1].rstrip("/")
AXE = open(sys.argv[2], encoding="utf-8").read()
SHOTS = sys.argv[3] if len(sys.argv) > 3 else None
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP evil.test 127.0.0.1",
]
# Each run has a database of its own.
ADA = "ada@example.com"
BOB = "bob@example.com"
PASSWORD = "correct horse battery"

report = {"axe": {}, "csp_violations": [], "pages": []}


def http(method, path, key=None, body=None, headers=None):
    """A plain HTTP client: the status and the parsed body."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("X-Api-Key", key)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req) as res:
            raw = res.read()
            return res.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


def watch(page):
    """Records Content-Security-Policy violations the page reports."""

    def on_console(msg):
        if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text:
            report["csp_violations"].append(f"{page.url}: {msg.text}")

    page.on("console", on_console)


def audit(page, name):
    """axe-core on the page as it stands; saves it in light and dark when asked."""
    page.wait_for_load_state("networkidle")
    page.evaluate(AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help}))"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    report["axe"][name] = result
    assert not bad, f"axe on {name}: {bad}"
    report["pages"].append(name)
    if SHOTS:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            # caret="initial": hiding the caret injects a style the page's CSP refuses.
            page.screenshot(path=f"{SHOTS}/{name}-{scheme}.png", full_page=True, caret="initial")
        page.emulate_media(color_scheme="light")


def sign_in(page, email):
    page.goto(BASE + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(BASE + "/instances")
    # The page's scripts (htmx, the switcher's) are running before anyone uses it.
    page.wait_for_load_state("networkidle")


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    origin = BASE
    ada = browser.new_context(base_url=BASE)
    ada.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = ada.new_page()
    watch(page)

    # / without a session goes to the sign-in page; its form speaks plainly.
    page.goto(BASE + "/")
    expect(page).to_have_url(BASE + "/login")
    expect(page.get_by_label("Email")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    audit(page, "login")

    # A wrong password is said plainly, on the form.
    page.get_by_label("Email").fill(ADA)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password")

    # Sign up.
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url(BASE + "/signup")
    audit(page, "signup")
    page.get_by_label("Email").fill(ADA)
    page.get_by_label("Password").fill("short")
    page.get_by_label("Tenant name").fill("Acme")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("String should have at least 8 characters")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(BASE + "/instances")
    expect(page.get_by_role("heading", name="Instances")).to_be_visible()

    # Create an instance: bad JSON is said plainly, then it is created and started.
    page.get_by_label("Name").fill("web-1")
    page.get_by_label("Configuration (JSON object)").fill("{model: small}")
    page.get_by_role("button", name="Create instance").click()
    expect(page.get_by_text("This is not valid JSON")).to_be_visible()
    page.get_by_label("Configuration (JSON object)").fill('{"model": "small"}')
    page.get_by_role("button", name="Create instance").click()
    expect(page.get_by_role("heading", name="web-1")).to_be_visible()
    expect(page.get_by_text("Instance created.")).to_be_visible()
    # The default runtime runs nothing: the log section says so.
    expect(page.get_by_role("heading", name="Log")).to_be_visible()
    expect(page.get_by_text("Nothing written yet.")).to_be_visible()
    audit(page, "instance")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text("running", exact=True)).to_be_visible()
    page.get_by_role("link", name="Instances", exact=True).click()
    row = page.get_by_role("row", name="web-1")
    expect(row.get_by_text("running")).to_be_visible()
    # Stop and start again from the list: htmx swaps the row in place.
    row.get_by_role("button", name="Stop web-1").click()
    expect(page.get_by_role("row", name="web-1").get_by_text("stopped")).to_be_visible()
    page.get_by_role("row", name="web-1").get_by_role("button", name="Start web-1").click()
    expect(page.get_by_role("row", name="web-1").get_by_text("running")).to_be_visible()
    audit(page, "instances")

    # Mint a key that may only read instances, and copy it from the page.
    page.get_by_role("link", name="API keys").click()
    expect(page).to_have_url(BASE + "/settings/api-keys")
    audit(page, "api-keys")
    page.get_by_label("Name", exact=True).fill("reader")
    page.get_by_role("checkbox", name="instances:read").check()
    page.get_by_role("radio", name="In 30 days").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    shown = page.locator("#new-key").inner_text().strip()
    assert shown.startswith("hc_live_"), shown
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_text("Copied to the clipboard")).to_be_visible()
    key = page.evaluate("navigator.clipboard.readText()")
    assert key == shown, (key, shown)
    curl = page.locator("#curl-snippet").inner_text()
    assert key in curl and "/v1/instances" in curl, curl
    assert '"X-Api-Key"' in page.locator("#mcp-snippet").inner_text()
    audit(page, "api-key-created")

    # The key works with a plain HTTP client, within its scope only.
    status, listed = http("GET", "/v1/instances", key)
    assert status == 200 and [i["name"] for i in listed] == ["web-1"], (status, listed)
    status, body = http("POST", "/v1/instances", key, {"name": "nope"})
    assert status == 403, (status, body)

    # The list shows it: its scope as a chip, never used... until now.
    page.get_by_role("link", name="Done: back to API keys").click()
    row = page.get_by_role("row", name="reader")
    expect(row.get_by_text("instances:read")).to_be_visible()
    assert key not in page.content(), "the list must never show a key's secret"

    # Rotate it with a 15-minute grace: the old and the new key both work.
    row.get_by_role("link", name="Edit reader").click()
    expect(page.get_by_role("heading", name="reader")).to_be_visible()
    audit(page, "api-key")
    page.get_by_role("radio", name="In 15 minutes").check()
    page.get_by_role("button", name="Rotate key").click()
    expect(page.get_by_role("heading", name="Your rotated API key")).to_be_visible()
    rotated = page.locator("#new-key").inner_text().strip()
    assert rotated.startswith("hc_live_") and rotated != key
    assert http("GET", "/v1/instances", key)[0] == 200, "the old key within its grace"
    assert http("GET", "/v1/instances", rotated)[0] == 200, "the new key"

    # Revoke the new key, with confirmation: it stops working.
    page.get_by_role("link", name="Done: back to API keys").click()
    rows = page.get_by_role("row", name="reader")
    expect(rows).to_have_count(2)
    new_row = page.locator("tr", has=page.get_by_text(rotated[:14]))
    new_row.get_by_role("link", name="Revoke reader").click()
    expect(page.get_by_role("heading", name="Revoke reader?")).to_be_visible()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_text("API key revoked")).to_be_visible()
    status, body = http("GET", "/v1/instances", rotated)
    assert status == 401, (status, body)

    # A second person, added as viewer.
    status, body = http(
        "POST", "/auth/signup", body={"email": BOB, "password": PASSWORD, "tenant_name": "Bob's"}
    )
    assert status == 201, (status, body)
    page.get_by_role("link", name="Members").click()
    audit(page, "members")
    page.get_by_label("Email").fill(BOB)
    page.get_by_label("Role", exact=True).select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Member added.")).to_be_visible()
    expect(page.get_by_role("row", name=BOB)).to_be_visible()

    # The other pages, audited.
    page.get_by_role("link", name="MCP credentials").click()
    # The page whole first (a busy machine can be slow to finish it), then the form.
    expect(page).to_have_url(BASE + "/settings/mcp-credentials")
    page.wait_for_load_state("load")
    expect(page.get_by_role("heading", name="Store a credential")).to_be_visible()
    for label, value in [("Name", "github"), ("Server URL", "https://mcp.example.com/mcp"),
                         ("Secret", "ghp_abcdefghijklmnop1234")]:
        field = page.get_by_label(label, exact=True)
        field.fill(value)
        expect(field).to_have_value(value)
    page.get_by_role("button", name="Store credential").click()
    expect(page.get_by_text("Credential stored.")).to_be_visible()
    row = page.get_by_role("row", name="github")
    expect(row.get_by_text("…1234")).to_be_visible()
    assert "ghp_abcdefghijklmnop1234" not in page.content()
    audit(page, "mcp-credentials")
    page.get_by_role("link", name="MCP call log").click()
    audit(page, "mcp-call-log")
    # The audit log: who did what, newest first, filtered, one event in detail.
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    for action in ["mcp_credential.created", "member.added", "api_key.revoked",
                   "api_key.rotated", "api_key.minted", "instance.started",
                   "instance.created", "user.signed_up"]:
        expect(page.get_by_role("cell", name=action, exact=True).first).to_be_visible()
    page.get_by_label("Action").select_option("api_key.minted")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(ADA)
    expect(rows.first).to_contain_text("reader")
    audit(page, "audit-log")
    rows.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="api_key.minted")).to_be_visible()
    expect(page.get_by_text("An API key was minted")).to_be_visible()
    assert key not in page.content() and rotated not in page.content()
    audit(page, "audit-event")
    page.get_by_role("link", name="Tenant", exact=True).click()
    expect(page.get_by_text("Acme").first).to_be_visible()
    audit(page, "tenant")

    # A cross-site page posting a form here is refused, and changes nothing.
    evil = ada.new_page()
    evil.route(
        "http://evil.test/**",
        lambda route: route.fulfill(
            content_type="text/html",
            body=(
                f'<html><body><form id="f" method="post" action="{BASE}/instances">'
                '<input name="name" value="pwned"></form>'
                '<script>document.getElementById("f").submit()</script></body></html>'
            ),
        ),
    )
    with evil.expect_response(lambda r: r.url.startswith(BASE + "/instances")) as caught:
        evil.goto("http://evil.test/")
    assert caught.value.status == 403, caught.value.status
    evil.close()
    # The same session's cookie without the form's token is refused too.
    forged = ada.request.post(BASE + "/instances", form={"name": "pwned"})
    assert forged.status == 403, forged.status
    status, listed = http("GET", "/v1/instances", shown)  # the rotated-out key, in grace
    assert [i["name"] for i in listed] == ["web-1"], listed

    # Bob signs in, switches to Acme, and sees it read-only.
    bob = browser.new_context(base_url=BASE)
    bpage = bob.new_page()
    watch(bpage)
    sign_in(bpage, BOB)
    switcher = bpage.get_by_label("Tenant")
    expect(switcher).to_be_visible()
    switcher.select_option(label="Acme (viewer)")
    expect(bpage.get_by_text("The agents of Acme.")).to_be_visible()
    expect(bpage.get_by_role("row", name="web-1")).to_be_visible()
    expect(bpage.get_by_role("button", name="Create instance")).to_have_count(0)
    expect(bpage.get_by_role("link", name="Audit log")).to_have_count(0)
    expect(bpage.get_by_role("button", name="Stop web-1")).to_have_count(0)
    bpage.get_by_role("link", name="API keys").click()
    expect(bpage.get_by_text("can view keys but not create or change them")).to_be_visible()
    nav = bpage.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="API keys")).to_have_attribute("aria-current", "page")
    expect(nav.locator("[aria-current]")).to_have_count(1)
    expect(bpage.get_by_role("button", name="Create key")).to_have_count(0)
    # A forged mint, with Bob's own valid CSRF token: the operation refuses it.
    token = bpage.locator('input[name="csrf_token"]').first.get_attribute("value")
    forged = bob.request.post(
        BASE + "/settings/api-keys",
        form={"csrf_token": token, "name": "sneaky", "scopes": "instances:read", "expires": "never"},
    )
    assert forged.status == 403, forged.status
    assert "Missing required scope: api-keys:write" in forged.text(), forged.text()[:500]

    # Signing out ends the session at once: its cookie no longer opens a page.
    bpage.get_by_role("button", name="Sign out").click()
    expect(bpage).to_have_url(BASE + "/login")
    bpage.goto(BASE + "/instances")
    expect(bpage).to_have_url(BASE + "/login?next=/instances")
    browser.close()

assert not report["csp_violations"], report["csp_violations"]
print(json.dumps(report))

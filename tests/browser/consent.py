"""The person's side of an OAuth sign-in, in Chromium (Playwright), as people do it.

Usage:
  consent.py authorize AUTHORIZE_URL REDIRECT_PREFIX EMAIL PASSWORD [AXE_JS]
      Opens the client's authorization URL, signs in on the console's page, checks the
      consent page (the client, the tenant, the scopes preselected), and clicks Allow.
      The browser's arrival at the client's redirect URI is caught (nothing listens
      there); prints {"redirect": URL, "scopes": [...], "client": NAME}.
  consent.py revoke BASE_URL CLIENT_NAME EMAIL PASSWORD [AXE_JS]
      Signs in, opens Connected apps, revokes the client's grant; prints {"revoked": NAME}.

With AXE_JS, axe-core checks the consent page and Connected apps (no serious or critical
violation); with HYDRACORE_CONSOLE_SHOTS, they are saved in light and dark there. The
browser reports no Content-Security-Policy violation. Exits non-zero with the failed
expectation.
"""
import json
import os
import sys

from playwright.sync_api import expect, sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MODE = sys.argv[1]
violations = []


def sign_in(page, email, password):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


SHOTS = os.environ.get("HYDRACORE_CONSOLE_SHOTS")


def axe_check(page, axe, name):
    """axe-core on the page; saved in light and dark when HYDRACORE_CONSOLE_SHOTS names
    a directory."""
    page.evaluate(axe)
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    bad = [v["id"] for v in found if v["impact"] in ("serious", "critical")]
    assert not bad, f"axe found on the {name} page: {bad}"
    if SHOTS:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.screenshot(path=f"{SHOTS}/{name}-{scheme}.png", full_page=True, caret="initial")
        page.emulate_media(color_scheme="light")


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page()
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        report = {}
        if MODE == "authorize":
            url, prefix, email, password = sys.argv[2:6]
            axe = open(sys.argv[6], encoding="utf-8").read() if len(sys.argv) > 6 else None
            caught = []

            def catch(route):
                caught.append(route.request.url)
                route.fulfill(status=200, content_type="text/plain", body="You can close this window.")

            page.route(prefix + "**", catch)
            page.goto(url)
            if page.get_by_role("heading", name="Sign in").count():
                sign_in(page, email, password)
            heading = page.get_by_role("heading", level=1)
            expect(heading).to_contain_text("to use HydraCore?")
            report["client"] = heading.inner_text().removeprefix("Allow ").removesuffix(" to use HydraCore?")
            boxes = page.get_by_role("checkbox")
            report["scopes"] = [b.get_attribute("value") for b in boxes.all() if b.is_checked()]
            assert report["scopes"], "no scope is preselected"
            if axe:
                axe_check(page, axe, "consent")
            page.get_by_role("button", name="Allow").click()
            page.wait_for_timeout(200)
            for _ in range(50):
                if caught:
                    break
                page.wait_for_timeout(100)
            assert caught, f"the browser never reached the redirect URI (at {page.url})"
            report["redirect"] = caught[0]
        elif MODE == "revoke":
            base, client, email, password = sys.argv[2:6]
            axe = open(sys.argv[6], encoding="utf-8").read() if len(sys.argv) > 6 else None
            page.goto(base.rstrip("/") + "/settings/connected-apps")
            sign_in(page, email, password)
            expect(page.get_by_role("heading", name="Connected apps")).to_be_visible()
            if axe:
                axe_check(page, axe, "connected-apps")
            row = page.get_by_role("row").filter(has_text=client)
            row.get_by_role("link", name=f"Revoke {client}").click()
            expect(page.get_by_role("heading", name=f"Revoke {client}?", exact=True)).to_be_visible()
            page.get_by_role("button", name="Revoke", exact=True).click()
            expect(page.get_by_role("status")).to_contain_text("revoked")
            expect(page.get_by_role("row").filter(has_text=client)).to_have_count(0)
            report["revoked"] = client
        else:
            raise SystemExit(f"unknown mode {MODE}")
        assert not violations, f"CSP violations: {violations}"
        browser.close()
        print(json.dumps(report))


main()

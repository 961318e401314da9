"""Opens every API reference page in Chromium (Playwright) under a host name that is
not localhost (some widgets only reach out elsewhere when they are not on localhost)
and fails on any request to another origin.

Usage: docs_offline.py PORT
Prints one JSON object: for each page, the requests it made and those to other
origins; the Rust test judges it.
"""
import json
import sys
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

PORT = sys.argv[1]
HOST = "docs.hydracore.test"
BASE = f"http://{HOST}:{PORT}"
PAGES = ["/docs/", "/redoc", "/docs/api"]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--host-resolver-rules=MAP {HOST} 127.0.0.1",
]


def origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


report = {}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
    for page_path in PAGES:
        page = browser.new_page()
        seen = []
        page.on("request", lambda r: seen.append(r.url))
        page.goto(BASE + page_path, wait_until="networkidle")
        # Widgets that fetch late (a validator badge, a logo) do so after rendering.
        page.wait_for_timeout(1500)
        foreign = [u for u in seen if not u.startswith(("data:", "blob:")) and origin(u) != BASE]
        report[page_path] = {
            "requests": len(seen),
            "foreign": foreign,
            "title": page.title(),
            "text": page.inner_text("body")[:20000],
        }
        page.close()
    browser.close()
print(json.dumps(report))

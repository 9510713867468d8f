"""`drills export --self-contained`: one file per paper, charts embedded, checked in a real headless
Chromium — it loads, every chart shows, and no link is broken."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from drills.export.standalone import export_self_contained
from drills.paths import papers_dir
from drills.stack.ports import pick_free_port

pytestmark = pytest.mark.slow
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

CHECK_PAGE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="page" width="1200" height="800"></iframe>
<script>
const page = new URLSearchParams(location.search).get("page");
const frame = document.getElementById("page");
frame.onload = async () => {
  const doc = frame.contentDocument;
  const images = [...doc.images];
  await Promise.all(images.map(img => img.complete ? null : new Promise(r => { img.onload = img.onerror = r; })));
  const links = [...doc.querySelectorAll("a[href]")].map(a => a.getAttribute("href"))
      .filter(h => !/^[a-z][a-z0-9+.-]*:/i.test(h) && !h.startsWith("#"));
  const broken = [];
  for (const href of links) {
    const response = await fetch(href);
    if (!response.ok) broken.push(href);
  }
  document.getElementById("result").textContent = JSON.stringify({
    title: doc.title, images: images.length,
    shown: images.filter(i => i.naturalWidth > 0).length, links: links.length, broken});
};
frame.src = page;
</script></body></html>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and ON_CI and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, check=False)
        found = shutil.which("chromium")
    if found is None:
        message = "needs Debian's chromium: apt-get install chromium"
        pytest.fail(message) if ON_CI else pytest.skip(message)
    return found


def test_each_self_contained_paper_loads_with_its_charts_and_no_broken_link(tmp_path: Path, chromium: str) -> None:
    papers = sorted(p for p in papers_dir().glob("*.md") if p.name != "README.md")
    written = export_self_contained(papers, tmp_path / "dist")
    assert len(written) == 2 * len(papers)
    for md in (tmp_path / "dist").glob("*.md"):
        text = md.read_text(encoding="utf-8")
        assert "](figures/" not in text and "data:image/png;base64," in text, "no link to a local file left"
    (tmp_path / "dist" / "check.html").write_text(CHECK_PAGE, encoding="utf-8")
    port = pick_free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              cwd=tmp_path / "dist", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/check.html", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        for paper in papers:
            html_name = paper.with_suffix(".html").name
            dom = subprocess.run(
                [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom",
                 f"http://127.0.0.1:{port}/check.html?page={html_name}"],
                capture_output=True, text=True, timeout=120).stdout
            result = json.loads(dom.split('<pre id="result">', 1)[1].split("</pre>", 1)[0].replace("&quot;", '"'))
            assert result["title"].startswith(paper.read_text(encoding="utf-8").splitlines()[0][2:12])
            charts = paper.read_text(encoding="utf-8").count("](figures/")  # a first run has no trend chart yet
            assert charts >= 1 and result["images"] == charts and result["shown"] == charts, result
            assert result["broken"] == [], result
    finally:
        server.terminate()
        server.wait(timeout=10)

"""The built book, as a reader's browser sees it: pages render, figures are there, math is typeset offline.

The site is built by ``scripts/build_book.sh`` when ``_build/html/index.html`` is missing or older than
any source of the book (config, pages, notebooks, the package the notebooks import). When a CI step has
just built it, ``RESATTN_SITE_PREBUILT=1`` skips that check and uses the build as it is.

Pages are served from ``_build/html`` by a local HTTP server and opened with headless Chromium, with
every host but 127.0.0.1 unresolvable: math can only render if MathJax is served by the site itself.
Screenshots are written to ``_build/screenshots/`` for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the book is built and read in a browser

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHAPTER = "chapters/03_attention_residual_learning.html"
CHAPTERS = ["01_trunk", "02_soft_mask", "03_attention_residual_learning", "04_mask_activations",
            "05_networks", "06_training_cifar", "07_ablations", "08_noisy_labels", "09_imagenet",
            "10_basic_units", "11_seeing_attention", "12_training_engineering"]
#: Every page of the book besides the chapters.
PAGES = ["book/intro.html", "book/notation.html", "book/reproducing.html", "book/instructors.html",
         "book/references.html"]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # Offline: nothing but the local server resolves, so a CDN cannot stand in for the site's MathJax.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--virtual-time-budget=10000",  # let MathJax finish typesetting before the DOM or screenshot
]


def book_sources() -> list[Path]:
    """Every file whose change changes the built site."""
    files = [ROOT / "_config.yml", ROOT / "_toc.yml"]
    files += [p for p in (ROOT / "book").rglob("*") if p.is_file() and "mathjax" not in p.parts]
    files += list((ROOT / "chapters").glob("*.ipynb")) + list((ROOT / "resattn_min").glob("*.py"))
    return files


def site_is_stale() -> bool:
    index = HTML / "index.html"
    if not index.exists():
        return True
    built = index.stat().st_mtime
    return any(p.stat().st_mtime > built for p in book_sources())


@pytest.fixture(scope="module")
def site() -> Path:
    """``_build/html``, built first if it is missing or stale (unless RESATTN_SITE_PREBUILT=1)."""
    if os.environ.get("RESATTN_SITE_PREBUILT") == "1":
        assert (HTML / "index.html").exists(), "RESATTN_SITE_PREBUILT=1 but _build/html is empty"
    elif site_is_stale():
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        env.setdefault("RESATTN_QUICK", "1")
        run = subprocess.run(["bash", str(ROOT / "scripts" / "build_book.sh")], cwd=ROOT, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, f"the book build failed:\n{(run.stdout + run.stderr)[-6000:]}"
    return HTML


class _Recorder(http.server.SimpleHTTPRequestHandler):
    requests: list[tuple[str, int]]

    def log_request(self, code="-", size="-"):
        self.requests.append((self.path.split("?")[0], code if isinstance(code, int) else 0))

    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def server(site: Path):
    """A local HTTP server on 127.0.0.1 for the built site; yields (base URL, list of requests)."""
    requests: list[tuple[str, int]] = []
    handler = functools.partial(type("Handler", (_Recorder,), {"requests": requests}), directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", requests
    httpd.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None and Path("/usr/bin/chromium").exists():
        exe = "/usr/bin/chromium"
    if exe is None:
        pytest.skip("headless Chromium is not installed (apt-get install -y chromium); CI installs it")
    return exe


def browse(chromium: str, url: str, *args: str) -> str:
    """Run headless Chromium on ``url`` with a throw-away profile; return its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                             capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"chromium failed on {url}:\n{run.stderr[-3000:]}"
    return run.stdout


@pytest.fixture(scope="module")
def dom(chromium: str, server):
    """The DOM of a page after its scripts ran (cached per page)."""
    base, _ = server
    return functools.cache(lambda page: browse(chromium, base + page, "--dump-dom"))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_home_page_has_title_and_links_every_chapter(dom):
    page = dom("index.html")  # a redirect to book/intro.html, followed by the browser
    assert "built and reproduced" in text_of(page)
    assert re.search(r"<h1[^>]*>\s*The Residual Attention Network, built and reproduced", page)
    for chapter in CHAPTERS:
        assert f"chapters/{chapter}.html" in page, f"the home page does not link {chapter}"
    assert "mjx-container" in page, "the inline math of the home page was not typeset"


def test_chapter_page_has_headings_figures_math_and_exercises(dom):
    page = dom(CHAPTER)
    text = text_of(page)
    assert re.search(r"<h1[^>]*>.*Attention modules and attention residual learning", page)
    for heading in ("The mask filters the gradient", "ARL is the trunk when the mask is zero", "Exercises"):
        assert re.search(rf"<h2[^>]*>.*{heading}", page), f"missing section '{heading}'"
    figures = re.findall(r"<img[^>]+src=\"[^\"]*_images/[^\"]+\.png\"", page)
    assert len(figures) >= 2, "the chapter's matplotlib figures are missing"
    assert page.count("<mjx-container") >= 5, "display and inline math should be typeset by MathJax"
    assert "<mjx-merror" not in page, "MathJax reported a TeX error"
    assert "exercise" in page and "solution" in page and "dropdown" in page
    assert "wang2017residual" not in text, "an unresolved citation key is shown as text"
    assert "{glue" not in text and "{cite" not in text, "a MyST role was not rendered"


def test_glued_numbers_appear_in_the_prose(dom):
    page = dom("chapters/05_networks.html")
    pasted = re.findall(r'class="pasted-text"[^>]*>([^<]+)<', page)
    assert len(pasted) >= 10, "the numbers of chapter 5 are glued from the code, not typed"
    assert all(re.search(r"\d", value) for value in pasted[:5])


def test_math_is_served_by_the_site_itself(dom, server, site: Path):
    dom("book/notation.html")
    _, requests = server
    fetched = {path: code for path, code in requests}
    mathjax = [p for p in fetched if "/_static/mathjax/" in p]
    assert any(p.endswith("tex-chtml-full.js") for p in mathjax), "MathJax was not loaded from _static"
    assert any(p.endswith(".woff") for p in mathjax), "MathJax's fonts were not loaded from _static"
    # (the browser asks for /favicon.ico by itself; the book has no favicon)
    missing = sorted(p for p, code in fetched.items() if code >= 400 and p != "/favicon.ico")
    assert not missing, f"the site requested files it does not have: {missing}"
    html = (site / "book" / "notation.html").read_text()
    assert not re.search(r"<script[^>]+src=\"https?://[^\"]*mathjax", html, flags=re.I)


@pytest.mark.parametrize("page", ["index.html", CHAPTER], ids=["index", "chapter"])
def test_screenshots_are_not_blank(chromium, server, page):
    from PIL import Image, ImageStat

    base, _ = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / (Path(page).stem + ".png")
    shot.unlink(missing_ok=True)
    browse(chromium, base + page, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.exists() and shot.stat().st_size > 30_000, f"{shot} is missing or suspiciously small"
    with Image.open(shot) as image:
        assert image.size == (1280, 2000)
        gray = image.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 20, "the screenshot is (almost) one flat colour"
        ink = sum(gray.histogram()[:200]) / (image.width * image.height)
        assert ink > 0.03, "almost nothing is drawn on the page"


@pytest.mark.parametrize("page", [f"chapters/{c}.html" for c in CHAPTERS] + PAGES)
def test_no_page_shows_a_warning_box(dom, page):
    html = dom(page)
    assert 'class="output stderr' not in html, "a cell printed to stderr (a warning box)"
    printed = re.findall(r"\b\w*Warning: [^<]{0,80}", html)
    assert not printed, f"a Python warning is shown on the page: {printed[0]}"
    assert "admonition warning" not in html, "a warning admonition"


def test_chapters_are_numbered_in_the_navigation(dom):
    page = dom("book/notation.html")
    for number, chapter in enumerate(CHAPTERS, start=1):
        assert re.search(rf'href="[^"]*chapters/{chapter}\.html">\s*{number}\. ', page), (
            f"chapter {chapter} is not numbered {number} in the navigation")


@pytest.mark.parametrize("number", range(6, len(CHAPTERS) + 1))
def test_figures_and_exercises_are_numbered_by_their_chapter(site: Path, number):
    html = (site / "chapters" / f"{CHAPTERS[number - 1]}.html").read_text()
    figures = re.findall(r'<span class="caption-number">Fig\. ([\d.]+) ', html)
    exercises = set(re.findall(r"Exercise ([\d.]+)", html))
    assert exercises and all(e.startswith(f"{number}.") for e in exercises), exercises
    assert all(f.startswith(f"{number}.") for f in figures), figures

"""The book as a reader meets it: every page of the quick run's book opened in headless Chromium.

Each page is loaded from a copy of the built site with a small checker script added
(``tests/browser/check.js``); Chromium runs with every host name unresolvable, so a page that
needs the network shows it. After MathJax has typeset the page the script reports the visible
text, the images, the links, the resources loaded and the page's width, and this test checks:

- the maths rendered (MathJax present and no raw TeX or MathJax error left),
- every image loaded, with a non-zero size on the page,
- no page wider than the viewport,
- none of the noise of a build in the visible text (logs, warnings, progress bars, machine paths),
- every internal link points at an existing page (and anchor),
- nothing was requested from outside the site.

Chromium: Debian's package ``chromium`` (``apt-get install -y chromium``); ``.ci/run`` installs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from automap_nb.orchestration.runner import REPO_ROOT

pytestmark = pytest.mark.slow

CHECKER = Path(__file__).parent / "browser" / "check.js"
VIEWPORT = (1280, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOW_TO_GET = ("no Chromium found (looked for: " + ", ".join(BROWSERS) + "). The browser test needs it: on "
              "Debian/Ubuntu `sudo apt-get update && sudo apt-get install -y chromium` (.ci/run does this), "
              "or set AUTOMAP_NB_CHROMIUM=/path/to/chromium")

# What a reader must never meet in a page's visible text: build noise and machine paths.
NOISE = {
    "TensorFlow/absl log line": re.compile(r"\bI0000\b|absl::|oneDNN|cudart_stub|cuda_dnn|TF_ENABLE_ONEDNN_OPTS"),
    "kernel warning": re.compile(r"IPKernelApp|\[IPKernelApp\]"),
    "library log record": re.compile(r"\b(?:WARNING|INFO|ERROR):(?:tensorflow|absl|keras|jax|root):"),
    "Python warning": re.compile(r"\b\w*Warning: |TqdmWarning|warnings\.warn"),
    "progress bar": re.compile(r"\d+%\|[█▏▎▍▌▋▊▉ ]*\||\d+/\d+ \[\d\d:\d\d<|it/s\]|s/it\]|█"),
    "path object": re.compile(r"PosixPath\(|WindowsPath\("),
    "machine path": re.compile(r"/tmp/|/work/|/home/|/root/|site-packages|/usr/lib/python"),
    "raw TeX": re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|\\frac|\\sum|\\log_|\\mathrm|\\lVert"),
    "MathJax error": re.compile(r"Math Processing Error|Math input error"),
    "unresolved glue or substitution": re.compile(r"\{glue:|\{\{ ?\w+ ?\}\}")
}


def chromium() -> str:
    given = os.environ.get("AUTOMAP_NB_CHROMIUM")
    if given:
        if not Path(given).is_file():
            pytest.fail(f"AUTOMAP_NB_CHROMIUM={given}: no such file")
        return given
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(HOW_TO_GET)


class _Ids(HTMLParser):

    def __init__(self):
        super().__init__()
        self.ids = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)


def page_ids(path: Path) -> set[str]:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.ids


def pages_of(site: Path) -> list[Path]:
    """Every HTML page of the site a reader can reach (not Sphinx's own search page, nor the
    one-line redirect ``index.html`` to the landing page)."""
    return sorted(p for p in site.rglob("*.html") if not p.relative_to(site).parts[0].startswith("_") and p.name != "search.html"
                  and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8")[:200])


def with_checker(site: Path, copy: Path) -> Path:
    """A copy of ``site`` whose pages load the checker script last."""
    shutil.copytree(site, copy)
    shutil.copy2(CHECKER, copy / "_automap_check.js")
    for page in pages_of(copy):
        depth = len(page.relative_to(copy).parts) - 1
        tag = f'<script src="{"../" * depth}_automap_check.js"></script>'
        html = page.read_text(encoding="utf-8")
        if "</body>" not in html:
            raise AssertionError(f"{page}: no </body>")
        page.write_text(html.replace("</body>", tag + "</body>", 1), encoding="utf-8")
    return copy


def open_in_chromium(browser: str, page: Path, profile: Path) -> dict:
    """Load ``page`` offline in headless Chromium and return the checker's report."""
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
        "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
        f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}", "--hide-scrollbars", "--virtual-time-budget=20000", "--dump-dom",
        page.as_uri()
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="automap-browser-check"[^>]*>(.*?)</pre>', result.stdout, re.S)
    if not found:
        raise AssertionError(f"{page.name}: the checker did not report (exit {result.returncode}); "
                             f"Chromium said: {result.stderr.strip()[-500:]}")
    from html import unescape

    return json.loads(unescape(found.group(1)))


@pytest.fixture(scope="module")
def reports(quick_run, quick_book, tmp_path_factory):
    browser = chromium()
    build = tmp_path_factory.mktemp("book-browser")
    site = with_checker(quick_book.parent, build / "site")  # a copy: the shared build stays as built
    pages = pages_of(site)
    assert len(pages) >= 10, f"only {len(pages)} pages in the book"
    profiles = [build / f"profile-{i}" for i in range(len(pages))]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda args: open_in_chromium(browser, *args), zip(pages, profiles)))
    return site, dict(zip(pages, results)), quick_run


def test_every_page_renders_its_maths_offline(reports):
    site, found, _ = reports
    with_maths = 0
    for page, report in found.items():
        name = page.relative_to(site)
        if report["mathElements"]:
            with_maths += 1
            assert report["mathjaxLoaded"], f"{name}: has maths but MathJax did not load (offline)"
            assert report["mathRendered"] >= report["mathElements"], \
                f"{name}: {report['mathElements']} maths elements, {report['mathRendered']} typeset"
        assert report["mathErrors"] == 0, f"{name}: {report['mathErrors']} MathJax error(s)"
    assert with_maths >= 1, "no page has maths: the check would prove nothing"


def test_nothing_is_requested_from_outside_the_site(reports):
    site, found, _ = reports
    for page, report in found.items():
        outside = [url for url in report["resources"] if not url.startswith("file://")]
        assert not outside, f"{page.relative_to(site)} requested {outside[:3]}"


def test_every_image_loaded_with_a_size(reports):
    site, found, _ = reports
    images = 0
    for page, report in found.items():
        for image in report["images"]:
            images += 1
            where = f"{page.relative_to(site)}: {unquote(image['src']).rsplit('/', 1)[-1]}"
            assert image["complete"] and min(image["natural"]) > 0, f"{where}: did not load"
            assert min(image["shown"]) > 0, f"{where}: shown at size {image['shown']}"
    assert images >= 7, f"only {images} images in the whole book"


def test_no_page_is_wider_than_the_viewport(reports):
    site, found, _ = reports
    for page, report in found.items():
        assert report["scrollWidth"] <= report["viewportWidth"], \
            f"{page.relative_to(site)}: {report['scrollWidth']} px wide in a {report['viewportWidth']} px window"


def test_no_noise_in_the_visible_text(reports):
    site, found, run_dir = reports
    machine = [str(REPO_ROOT), str(Path(run_dir).resolve()), str(Path(run_dir))]
    for page, report in found.items():
        text = report["text"]
        for what, pattern in NOISE.items():
            hit = pattern.search(text)
            assert not hit, (f"{page.relative_to(site)}: {what} in the page: "
                             f"…{text[max(0, hit.start() - 60):hit.end() + 60]!r}…")
        for path in machine:
            assert path not in text, f"{page.relative_to(site)}: the machine path {path} in the page"


def test_no_broken_internal_link(reports):
    site, found, _ = reports
    ids: dict[Path, set[str]] = {}
    checked = 0
    for page, report in found.items():
        for href in report["links"]:
            url = urlsplit(href)
            if url.scheme in ("http", "https", "mailto"):
                continue
            assert url.scheme == "file", f"{page.relative_to(site)}: link {href}"
            target = Path(unquote(url.path))
            if target.name == "_automap_check.js":
                continue
            shown = target.relative_to(site) if target.is_relative_to(site) else target
            assert target.is_file(), f"{page.relative_to(site)}: broken link to {shown}"
            if url.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = page_ids(target)
                assert unquote(url.fragment) in ids[target], \
                    f"{page.relative_to(site)}: link to #{url.fragment} of {target.relative_to(site)}, no such anchor"
            checked += 1
    assert checked >= 20, f"only {checked} internal links checked"


def test_the_checker_sees_noise_it_is_meant_to_catch():
    """The patterns catch the noise the issue found (so a clean result means something)."""
    samples = {
        "TensorFlow/absl log line": "I0000 00:00:1795726196.961257 2412 port.cc:153] oneDNN custom operations are on.",
        "progress bar": "train: 100%|██████████| 2/2 [00:02<00:00, 1.21s/epoch]",
        "Python warning": "tqdm/auto.py:21: TqdmWarning: IProgress not found.",
        "path object": "PosixPath('/tmp/q/01_data_exploration.json')", "raw TeX": r"where \(x = \mathrm{ifft2c}(k)\)",
        "kernel warning": "[IPKernelApp] WARNING | Kernel is running over TCP",
        "library log record": "WARNING:tensorflow:5 out of the last 6 calls to <function TensorFlowTrainer.make",
        "unresolved glue or substitution": "{{ paper_val_psnr }}"
    }
    for what, text in samples.items():
        assert NOISE[what].search(text), what
    assert not any(p.search("PSNR of 28.2 dB after 300 epochs; see chapter 05.") for p in NOISE.values())

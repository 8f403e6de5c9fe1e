"""Render every page of the built documentation to PNG in headless Chromium.

Run after the documentation build, to look at the pages as a reader's
browser draws them::

    python docs/render_pages.py docs/_build/html
    python docs/render_pages.py docs/_build/html --pages "auto_examples/*" install.html

Each page is opened from disk (``file://``, no network), drawn at a desktop
window width and saved whole, as tall as the page, to ``docs/_build/png``
(``--out``) under its own path with ``.png`` for ``.html``. The count of pages
rendered is printed; a page that fails to render is named and makes the exit
status 1. It needs selenium and the Debian packages ``chromium`` and
``chromium-driver``.
"""

import argparse
import fnmatch
import shutil
import sys
import tempfile
from pathlib import Path

__all__ = ["find_pages", "main", "render_pages"]

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--hide-scrollbars")
#: Folders of a Sphinx build that hold no pages of their own.
NOT_PAGES = ("_static", "_sources", "_images", "_downloads", "_modules")
#: Pages taller than this many pixels are cut there (Chromium refuses larger captures).
MAX_HEIGHT = 30_000


def find_pages(html_dir, patterns=None):
    """The HTML pages of a build, sorted, relative to ``html_dir``.

    ``patterns`` (shell patterns such as ``"auto_examples/*"``) keep only the
    pages whose relative path matches one of them.
    """
    html_dir = Path(html_dir)
    if not html_dir.is_dir():
        msg = (f"render_pages expects the folder of a built HTML documentation; {html_dir} is "
               "not a folder. Build the pages first (sphinx-build -b html docs docs/_build/html).")
        raise FileNotFoundError(msg)
    pages = sorted(p.relative_to(html_dir) for p in html_dir.rglob("*.html")
                   if not any(part in NOT_PAGES for part in p.relative_to(html_dir).parts))
    if patterns:
        pages = [p for p in pages if any(fnmatch.fnmatch(str(p), pat) for pat in patterns)]
    return pages


def _browser(width, height):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="minuet-render-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    return driver, profile


def render_pages(html_dir, out_dir, *, patterns=None, width=1280, height=900):
    """Render pages of ``html_dir`` to PNG files under ``out_dir``.

    Returns
    -------
    written : list of `~pathlib.Path`
        The PNG files, one per rendered page.
    failed : list of (str, str)
        Page and reason for each page that could not be rendered.
    """
    html_dir, out_dir = Path(html_dir).resolve(), Path(out_dir)
    pages = find_pages(html_dir, patterns)
    written, failed = [], []
    driver, profile = _browser(width, height)
    try:
        for page in pages:
            target = out_dir / page.with_suffix(".png")
            try:
                driver.set_window_size(width, height)
                driver.get((html_dir / page).as_uri())
                full = driver.execute_script(
                    "return Math.max(document.body.scrollHeight,"
                    " document.documentElement.scrollHeight);")
                tall = min(max(int(full), height), MAX_HEIGHT)
                driver.set_window_size(width, tall)
                # the window's own bars take some of its height: add them back
                inner = int(driver.execute_script("return window.innerHeight;"))
                if inner < tall:
                    driver.set_window_size(width, min(2 * tall - inner, MAX_HEIGHT))
                target.parent.mkdir(parents=True, exist_ok=True)
                if not driver.save_screenshot(str(target)):
                    failed.append((str(page), "the browser saved no screenshot"))
                    continue
                written.append(target)
            except Exception as exc:  # one bad page must not hide the others
                failed.append((str(page), f"{type(exc).__name__}: {exc}".splitlines()[0]))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return written, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", help="the built HTML folder, e.g. docs/_build/html")
    parser.add_argument("--out", default=None,
                        help="folder for the PNG files (default: png beside html_dir)")
    parser.add_argument("--pages", nargs="+", metavar="PATTERN",
                        help="only pages whose path matches one of these shell patterns")
    parser.add_argument("--width", type=int, default=1280, help="window width in pixels")
    args = parser.parse_args(argv)
    out = Path(args.out) if args.out else Path(args.html_dir).resolve().parent / "png"
    written, failed = render_pages(args.html_dir, out, patterns=args.pages, width=args.width)
    for page, reason in failed:
        print(f"{page}: not rendered: {reason}")
    print(f"{len(written)} pages rendered to {out}, {len(failed)} failed")
    return 1 if failed or not written else 0


if __name__ == "__main__":
    sys.exit(main())

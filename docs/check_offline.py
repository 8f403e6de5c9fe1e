"""Check that built HTML pages load nothing from a remote host.

Run after the documentation build::

    python docs/check_offline.py docs/_build/html

Every ``src`` of ``script``, ``img``, ``iframe``, ``source``, ``video`` and
``audio`` elements, every ``srcset``, every ``href`` of ``link`` elements that
the browser loads (stylesheets, icons, preloads, modules) and every ``url(...)``
in inline styles and in the built CSS files must be a relative or local path.
Plain hyperlinks (``<a href>``) are not loads and may point anywhere. The exit
status is 1 when a remote reference is found, with one line per reference.
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

__all__ = ["find_remote", "main"]

_REMOTE = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")]+)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+['"]([^'"]+)""", re.IGNORECASE)
_SRC_TAGS = {"script", "img", "iframe", "source", "video", "audio", "embed", "input", "track"}
_LOADED_LINKS = {"stylesheet", "icon", "shortcut", "preload", "prefetch", "modulepreload",
                 "apple-touch-icon", "manifest", "mask-icon"}


def _is_remote(url):
    return bool(_REMOTE.match(url)) and not url.strip().lower().startswith("file:")


class _Loads(HTMLParser):
    """Collect the addresses an HTML page makes the browser fetch."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.loads = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in _SRC_TAGS and attrs.get("src"):
            self.loads.append((tag, attrs["src"]))
        if tag in {"img", "source"} and attrs.get("srcset"):
            for part in attrs["srcset"].split(","):
                if part.strip():
                    self.loads.append((tag, part.split()[0]))
        if tag == "video" and attrs.get("poster"):
            self.loads.append((tag, attrs["poster"]))
        if tag == "object" and attrs.get("data"):
            self.loads.append((tag, attrs["data"]))
        if tag == "link" and attrs.get("href"):
            rel = set((attrs.get("rel") or "").lower().split())
            if rel & _LOADED_LINKS:
                self.loads.append(("link", attrs["href"]))
        if attrs.get("style"):
            self.loads.extend(("style", url) for url in _css_urls(attrs["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.loads.extend(("style", url) for url in _css_urls(data))


def _css_urls(text):
    return [*_CSS_URL.findall(text), *_CSS_IMPORT.findall(text)]


def find_remote(root):
    """Return ``(file, element, address)`` for every remote load under ``root``.

    Parameters
    ----------
    root : str or path-like
        The HTML output folder of a Sphinx build.

    Returns
    -------
    found : list of tuple
        Empty when the pages load nothing from the network.
    """
    root = Path(root)
    found = []
    for page in sorted(root.rglob("*.html")):
        parser = _Loads()
        parser.feed(page.read_text(encoding="utf-8", errors="replace"))
        found.extend((page.relative_to(root), tag, url) for tag, url in parser.loads
                     if _is_remote(url))
    for sheet in sorted(root.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        found.extend((sheet.relative_to(root), "css", url) for url in _css_urls(text)
                     if _is_remote(url))
    return found


def main(argv=None):
    """Check a build folder; return 0 when nothing remote is loaded, 1 otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print("usage: python docs/check_offline.py BUILD_HTML_FOLDER", file=sys.stderr)
        return 2
    root = Path(argv[0])
    pages = len(list(root.rglob("*.html")))
    if pages == 0:
        print(f"{root} holds no HTML pages: build the documentation first.", file=sys.stderr)
        return 2
    found = find_remote(root)
    for file, tag, url in found:
        print(f"{file}: <{tag}> loads {url}")
    print(f"{pages} pages checked, {len(found)} remote loads found.")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

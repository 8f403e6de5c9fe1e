import importlib.util
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "docs" / "check_offline.py"
_SPEC = importlib.util.spec_from_file_location("check_offline", _PATH)
check_offline = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(check_offline)

LOCAL = """<html><head>
<link rel="stylesheet" href="_static/pydata.css">
<link rel="icon" href="_static/favicon.png">
<script src="_static/mathjax/tex-chtml.js"></script>
<style>body { background: url('_static/bg.png'); }</style>
</head><body>
<a href="https://arxiv.org/abs/2512.04145">a link is not a load</a>
<link rel="canonical" href="https://minuet.readthedocs.io/index.html">
<img src="_images/fig.png" srcset="_images/fig.png, _images/fig_2x.png 2x">
</body></html>"""


@pytest.fixture
def build(tmp_path):
    (tmp_path / "index.html").write_text(LOCAL)
    (tmp_path / "_static").mkdir()
    (tmp_path / "_static" / "theme.css").write_text("a { background: url(../img/x.svg); }")
    return tmp_path


def test_local_build_passes(build, capsys):
    assert check_offline.find_remote(build) == []
    assert check_offline.main([str(build)]) == 0
    assert "1 pages checked, 0 remote loads found" in capsys.readouterr().out


@pytest.mark.parametrize("snippet", [
    '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>',
    '<script async src="//cdn.example.org/x.js"></script>',
    '<link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Lato">',
    '<link rel="preload" as="font" href="HTTP://example.org/font.woff2">',
    '<img src="https://example.org/badge.svg">',
    '<img src="a.png" srcset="a.png, https://example.org/a_2x.png 2x">',
    '<div style="background-image: url(https://example.org/bg.png)"></div>',
    "<style>@import 'https://example.org/more.css';</style>",
    '<iframe src="https://mybinder.org/v2/x"></iframe>',
])
def test_remote_loads_are_found(build, snippet, capsys):
    (build / "sub").mkdir()
    (build / "sub" / "page.html").write_text(f"<html><body>{snippet}</body></html>")
    found = check_offline.find_remote(build)
    assert len(found) == 1
    assert found[0][0] == Path("sub/page.html")
    assert check_offline.main([str(build)]) == 1
    assert "sub/page.html" in capsys.readouterr().out


def test_remote_url_in_css_is_found(build):
    (build / "_static" / "fonts.css").write_text(
        "@font-face { src: url('https://fonts.gstatic.com/x.woff2'); }")
    assert [f[2] for f in check_offline.find_remote(build)] == ["https://fonts.gstatic.com/x.woff2"]


def test_empty_or_missing_folder(tmp_path, capsys):
    assert check_offline.main([str(tmp_path)]) == 2
    assert "build the documentation first" in capsys.readouterr().err
    assert check_offline.main([str(tmp_path / "nope")]) == 2

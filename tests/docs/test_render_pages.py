import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[2] / "docs" / "render_pages.py"
_SPEC = importlib.util.spec_from_file_location("render_pages", _PATH)
render_pages = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(render_pages)

TALL = ("<html><body style='margin:0'>"
        "<div style='height:2500px;background:#ff0000'></div></body></html>")


@pytest.fixture
def build(tmp_path):
    html = tmp_path / "html"
    (html / "guide").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "index.html").write_text("<html><body><h1>minuet</h1></body></html>")
    (html / "guide" / "tall.html").write_text(TALL)
    (html / "_static" / "widget.html").write_text("<html></html>")  # not a page
    return html


def test_find_pages_skips_build_folders_and_filters(build):
    assert render_pages.find_pages(build) == [Path("guide/tall.html"), Path("index.html")]
    assert render_pages.find_pages(build, ["guide/*"]) == [Path("guide/tall.html")]


def test_missing_build_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="Build the pages first"):
        render_pages.find_pages(tmp_path / "nowhere")


@pytest.mark.skipif(not (Path(render_pages.CHROMIUM).exists()
                         and Path(render_pages.CHROMEDRIVER).exists()),
                    reason="needs Chromium and chromedriver: apt-get install chromium "
                           "chromium-driver")
def test_every_page_is_rendered_whole(build, tmp_path):
    from PIL import Image

    out = tmp_path / "png"
    assert render_pages.main([str(build), "--out", str(out), "--width", "400"]) == 0
    tall = Image.open(out / "guide" / "tall.png")
    assert tall.size[0] == 400
    assert tall.size[1] >= 2500  # the whole page, not the first screen
    rgb = np.asarray(tall.convert("RGB"))
    np.testing.assert_array_equal(rgb[2000, 200], [255, 0, 0])
    assert (out / "index.png").is_file()
    assert not (out / "_static").exists()

"""The explorer in a real browser: headless Chromium driven by selenium.

Needs the Debian packages ``chromium`` and ``chromium-driver`` and the
``selenium`` package; without them this test fails (it is not skipped), saying
what to install. With ``MINUET_SCREENSHOT_DIR`` set, the screenshots go there
(the documentation's come from ``MINUET_SCREENSHOT_DIR=docs/explore``).
"""

import io
import os
from pathlib import Path

import numpy as np
import pytest

from minuet.explorer import explore
from minuet.explorer._browser import Browser, missing


def colourful_pixels(png):
    """Pixels whose colour is far from grey: drawn points and images, not the page."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = explore(show=False, export_dir=tmp_path_factory.mktemp("selections"))
    yield server
    server.stop()


def test_explorer_in_headless_chromium(server, tmp_path):
    problem = missing()
    if problem:
        pytest.fail(f"the browser test cannot run: {problem}")
    shots = Path(os.environ.get("MINUET_SCREENSHOT_DIR", tmp_path))
    with Browser(width=1750, height=1150) as browser:
        browser.driver.get(server.url)
        browser.wait_for(Browser.RENDERED, timeout=120, what="the scatter")
        status = browser.js(f"return {browser.model('status')}.text")
        n = len(server.data)
        assert status.startswith(f"showing {n:,} of {n:,} galaxies")
        # the scatter really is drawn: coloured points on the canvas
        assert colourful_pixels(browser.driver.get_screenshot_as_png()) > 2000
        browser.screenshot(shots / "explorer_scatter.png")

        # click a drawn point with the mouse
        x, y, row = browser.js(f"""
            const d = {browser.model('points')}.data;
            return [d.x[0], d.y[0], d.row[0]];""")
        browser.click_point("scatter", x, y)
        browser.wait_for(f"{browser.model('panel_title')}.text.includes('(row ')",
                         timeout=60, what="the clicked galaxy's panel")

        # find a galaxy by id
        browser.type_into("search", "17")
        title = f"{browser.model('panel_title')}.text"
        browser.wait_for(f"{title}.includes('Galaxy 17<')", timeout=60, what="galaxy 17")
        browser.wait_for(f"{browser.model('panel_state')}.text === 'panel: ready'",
                         timeout=300, what="the reconstruction draws")
        images = browser.js(f"return {browser.model('panel_images')}.data.label")
        assert images == ["draw 1 (no cutout)", "draw 2", "draw 3"]
        for name in ("redshift", "log_mstar", "log_sfr"):
            counts = browser.js(f"return Array.from({browser.model('posterior_' + name)}"
                                ".data.top)")
            assert sum(counts) == 1000
        classes = browser.js(f"return {browser.model('classes')}.data.label")
        assert sorted(classes) == ["edge_on", "merger", "round", "spiral_arms"]
        neighbours = browser.js(f"return {browser.model('neighbours')}.data.label")
        assert len(neighbours) == 6
        assert all(label.endswith("(draw)") for label in neighbours)
        # the draws are on the page, not only in the data
        assert colourful_pixels(browser.driver.get_screenshot_as_png()) > 8000

        # a latent slider redraws the galaxy from the moved numbers
        browser.js(f"const s = {browser.model('slider_latent_0')}; "
                   "s.value = s.value + 0.5 * (s.end - s.value); s.value_throttled = s.value;")
        browser.wait_for(f"{browser.model('slider_image')}.data.label[0] === "
                         "'from the sliders'", timeout=120, what="the slider reconstruction")
        browser.move_away()
        browser.screenshot(shots / "explorer_galaxy.png")

        # clicking a neighbour in the mosaic selects it
        second = neighbours[1].split()[1]
        browser.click_point("neighbours_figure", 1.08 + 0.5, 0.5)
        browser.wait_for(f"{title}.includes('Galaxy {second}<')", timeout=60,
                         what="the clicked neighbour's panel")
    assert row >= 0

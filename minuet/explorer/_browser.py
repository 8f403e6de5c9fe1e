"""Headless Chromium for the explorer's browser test and benchmark.

Not part of the public API: the test suite and ``benchmarks/bench_explore.py``
drive the page with these helpers, through selenium and the Debian packages
``chromium`` and ``chromium-driver``.
"""

import shutil
import tempfile
import time
from pathlib import Path

__all__ = []

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver",)
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync",
)

INSTALL_HINT = ("install the browser with `apt-get install -y chromium chromium-driver` and "
                "selenium with `pip install selenium` (the test extra has it)")


def _first(paths):
    for path in paths:
        found = shutil.which(path) or (path if Path(path).is_file() else None)
        if found:
            return found
    return None


def missing():
    """What is missing to run the browser checks, or None when nothing is."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed: {INSTALL_HINT}"
    if _first(CHROMIUM) is None:
        return f"Chromium was not found at {' or '.join(CHROMIUM)}: {INSTALL_HINT}"
    if _first(CHROMEDRIVER) is None:
        return f"chromedriver was not found at {CHROMEDRIVER[0]}: {INSTALL_HINT}"
    return None


class Browser:
    """Headless Chromium with a fresh profile, closed (profile removed) on exit."""

    def __init__(self, *, width=1800, height=1100):
        problem = missing()
        if problem:
            raise RuntimeError(problem)
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="minuet-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = _first(CHROMIUM)
        for flag in (*FLAGS, f"--user-data-dir={self._profile}",
                     f"--window-size={width},{height}"):
            options.add_argument(flag)
        try:
            self.driver = webdriver.Chrome(service=Service(_first(CHROMEDRIVER)),
                                           options=options)
        except Exception:
            shutil.rmtree(self._profile, ignore_errors=True)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Quit the browser and remove its profile."""
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    def js(self, script, *args):
        """Run JavaScript in the page and return its value."""
        return self.driver.execute_script(script, *args)

    def wait_for(self, script, *, timeout=60, poll=0.02, what="the page"):
        """Poll a JavaScript expression until it is truthy; return the seconds waited."""
        start = time.perf_counter()
        while True:
            try:
                if self.js(f"try {{ return Boolean({script}); }} catch (e) {{ return false; }}"):
                    return time.perf_counter() - start
            except Exception:
                pass
            if time.perf_counter() - start > timeout:
                msg = f"timed out after {timeout} s waiting for {what}: {script}"
                raise TimeoutError(msg)
            time.sleep(poll)

    def model(self, name):
        """JavaScript expression of the Bokeh model with this name."""
        return f"Bokeh.documents[0].get_model_by_name({name!r})"

    #: JavaScript: the page has drawn its points and every view is idle.
    RENDERED = ("Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle && "
                "Bokeh.documents[0].get_model_by_name('points').data.x.length > 0")

    def type_into(self, name, text):
        """Type text into a Bokeh TextInput (found by name) and press Enter."""
        from selenium.webdriver.common.keys import Keys

        element = self.js(
            f"return Bokeh.index.get_one({self.model(name)}).input_el;")
        element.clear()
        element.send_keys(str(text) + Keys.ENTER)

    def click_point(self, figure_name, x, y):
        """Click a figure at data coordinates (x, y) with the mouse."""
        from selenium.webdriver.common.action_chains import ActionChains

        canvas, px, py = self.js(f"""
            const view = Bokeh.index.get_one({self.model(figure_name)});
            const el = view.canvas_view.events_el;
            const px = view.frame.x_scale.compute(arguments[0]);
            const py = view.frame.y_scale.compute(arguments[1]);
            const r = el.getBoundingClientRect();
            return [el, px - r.width / 2, py - r.height / 2];""", x, y)
        ActionChains(self.driver).move_to_element_with_offset(
            canvas, round(px), round(py)).click().perform()

    def move_away(self):
        """Move the mouse to the page's top-left corner, closing any tooltip."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        body = self.driver.find_element(By.TAG_NAME, "body")
        ActionChains(self.driver).move_to_element_with_offset(
            body, -body.rect["width"] // 2 + 2, -body.rect["height"] // 2 + 2).perform()

    def screenshot(self, path):
        """Save a PNG of the window."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from astropy.io import fits

_SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_STAMPS = Path(
    os.environ.get(
        "MINUET_REAL_STAMPS", _SHARED / "data" / "real" / "ls_dr9_grz_72x72_stamps.npz"
    )
)


@pytest.fixture(scope="session")
def real_stamps():
    """The 14 real Legacy Surveys DR9 stamps, or a clean skip where they are absent."""
    if not REAL_STAMPS.exists():
        pytest.skip(f"real Legacy Surveys stamps not found at {REAL_STAMPS}")
    with np.load(REAL_STAMPS, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def viewer_cube(query):
    """A FITS file in the viewer layout whose flux encodes the requested dec."""
    size = int(query["size"][0])
    bands = query["bands"][0]
    header = fits.Header({"BANDS": bands})
    for i, band in enumerate(bands):
        header[f"BAND{i}"] = band
    cube = np.full((len(bands), size, size), float(query["dec"][0]), "f4")
    cube += np.arange(len(bands), dtype="f4")[:, None, None]
    hdus = [fits.PrimaryHDU(cube, header=header)]
    if "invvar" in query:
        hdus.append(fits.ImageHDU(np.full(cube.shape, 4.0, "f4"), name="INVVAR"))
    buffer = BytesIO()
    fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def saved_tiny_model(tmp_path_factory):
    """An untrained tiny model, saved: Dask workers and the command line load it from disk."""
    import torch

    from minuet import Minuet
    from minuet.models import DiffusionAutoencoder, DiffusionAutoencoderConfig

    torch.manual_seed(1)
    model = Minuet(DiffusionAutoencoder(DiffusionAutoencoderConfig.preset("tiny")), name="tiny")
    model.save(tmp_path_factory.mktemp("model") / "tiny")
    return model


@pytest.fixture
def legacy_viewer():
    """A fake Legacy Surveys cutout service on loopback; yields the requests it got.

    Flux encodes the requested dec (plus the band index); dec < -80 gets an HTTP
    error and -80 <= dec < -70 a page that is not FITS.
    """
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            parsed = urlparse(self.path)
            query = parse_qs(parsed.query, keep_blank_values=True)
            requests.append((parsed.path, query))
            dec = float(query["dec"][0])
            if dec < -80:  # a position the fake service cannot serve
                self.send_error(500, "no coverage")
                return
            body = b"<html>not fits</html>" if dec < -70 else viewer_cube(query)
            self.send_response(200)
            self.send_header("Content-Type", "image/fits")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/viewer/fits-cutout"
    from minuet.cutouts import conf

    with conf.set_temp("cutout_url", url):
        yield requests
    httpd.shutdown()
    httpd.server_close()
    thread.join()

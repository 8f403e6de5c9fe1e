"""
Your own Legacy Surveys cutouts
===============================

From a table of positions to a table of five numbers, a trust check and
physical properties, joined back to the table and saved: the path to take
with galaxies of your own.

Before you start: what the model expects
----------------------------------------

The bundled model (:ref:`model_card`) was trained on simulated Legacy
Surveys cutouts. Your cutouts match what it saw when:

* **the target is centred.** The cutout is requested at the galaxy's own
  position (``ra``, ``dec`` from your catalogue); the model describes the
  galaxy at the centre, and neighbours only as context.
* **the pixels are 0.262 arcsec.** That is the native Legacy Surveys scale,
  the default of `~minuet.cutouts.fetch_legacy_cutouts`. Cutouts at another
  scale are resampled to it, keeping surface brightness.
* **the data are DR9 or DR10 south (DECam) g, r, z.** The simulator follows
  DECaLS DR9 depths and seeing; the northern (BASS/MzLS) images of DR9
  have other filters, depths and seeing.
* **the flux is in nanomaggies**, as the viewer serves it, with 72 x 72
  pixels per band.
* **the inverse variance comes along** (``invvar=True``). It tells the
  encoder which pixels are missing (zero inverse variance: masked, not
  zero flux) and it sets the noise that the reconstruction residuals are
  measured against. Without it every pixel counts as good and residuals
  cannot be put in units of the noise.
* **the galaxies are in the simulator's range.** The posteriors inherit the
  prior of the simulated training set: central galaxies with
  0.02 < z <= 1, log M* > 8 and r < 21.5 mag. Outside it they are
  extrapolations.

.. note::

   This page builds without a network: the first block starts a stand-in
   for the Legacy Surveys viewer on this computer, serving *simulated*
   galaxies in the viewer's FITS layout. Skip that block on your own
   machine; everything after it is what you run on real positions.
"""

# %%
# A stand-in for the viewer (skip this block)
# -------------------------------------------
# A small web server on the loopback address answers the viewer's
# ``fits-cutout`` requests with simulated galaxies, and
# ``minuet.cutouts.conf.cutout_url`` is pointed at it. One position, far
# south, gets an error, as a position outside the survey would.

import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.table import QTable, Table, hstack

from minuet import Minuet
from minuet.cutouts import conf, fetch_legacy_cutouts
from minuet.simulate import simulate
from minuet.visualization import plot_cutouts

sim_images, sim_invvar, _, sim_truth = simulate(12, seed=2027)
positions = {round(150.0 + 0.01 * i, 4): i for i in range(12)}  # ra -> simulated galaxy


class FakeViewer(BaseHTTPRequestHandler):
    def do_GET(self):
        query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
        galaxy = positions.get(round(float(query["ra"][0]), 4))
        if galaxy is None or float(query["dec"][0]) < -80:
            self.send_error(404, "no coverage at this position")
            return
        header = fits.Header({"BANDS": "grz", "BAND0": "g", "BAND1": "r", "BAND2": "z"})
        hdus = [fits.PrimaryHDU(sim_images[galaxy], header=header)]
        if "invvar" in query:
            hdus.append(fits.ImageHDU(sim_invvar[galaxy], name="INVVAR"))
        buffer = BytesIO()
        fits.HDUList(hdus).writeto(buffer)
        self.send_response(200)
        self.send_header("Content-Type", "image/fits")
        self.end_headers()
        self.wfile.write(buffer.getvalue())

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), FakeViewer)
threading.Thread(target=server.serve_forever, daemon=True).start()
conf.cutout_url = f"http://127.0.0.1:{server.server_address[1]}/viewer/fits-cutout"

# %%
# Your table of positions
# -----------------------
# Any astropy table with ``ra`` and ``dec`` in degrees (ICRS) will do; its
# other columns come along to the end. Here: twelve positions served by the
# stand-in, with their r magnitudes, and one position the service cannot
# serve.

targets = Table({
    "name": [f"gal{i:02d}" for i in range(12)] + ["nowhere"],
    "ra": [150.0 + 0.01 * i for i in range(12)] + [151.0],
    "dec": [2.2] * 12 + [-85.0],
    "mag_r": np.append(np.round(np.asarray(sim_truth["mag_r"]), 2), 20.0),
})
print(targets)

# %%
# Fetch the cutouts
# -----------------
# One request per row, through astropy's download cache (``cache=True``, the
# default, downloads each cutout once; ``cache=False`` here keeps the
# stand-in's cutouts out of your cache). ``layer="ls-dr10"`` is DR10 south;
# ``"ls-dr9"`` is DR9. ``on_invalid="flag"`` keeps going past a failed
# download and flags its row instead of stopping.

cutouts = fetch_legacy_cutouts(targets, layer="ls-dr10", invvar=True,
                               on_invalid="flag", cache=False,
                               progress=False)
print(f"{len(cutouts)} rows, {int(np.sum(cutouts.valid))} with a cutout")
print("failed:", cutouts.reason[~cutouts.valid][0][:50])

# %%
# Encode, with flags
# ------------------
# ``encode`` stops at the first cutout it cannot encode unless
# ``on_invalid="flag"``: then every input row has an output row, refused
# ones with NaN latents, ``valid`` False and the reason in ``flag``.

model = Minuet.pretrained()
latents = model.encode(cutouts, on_invalid="flag")
latents["latent_0"].info.format = ".3f"
print(latents["id", "latent_0", "valid"][-3:])
print("flag of the last row:", latents["flag"][-1][:50])

# %%
# The trust check
# ---------------
# The anomaly score says how improbable five numbers are among the simulated
# galaxies the model knows (0 is typical; it is a robust z-score of the
# negative log density). Compare it with the scores of simulated galaxies
# the model never saw: a galaxy above their 99th percentile is one the
# model should not be trusted on.

ref_images, ref_invvar, _, _ = simulate(300, seed=2028)
reference = model.anomaly_score(model.encode(ref_images, invvar=ref_invvar))
limit = np.percentile(reference["anomaly_score"], 99)
scores = model.anomaly_score(latents)
trusted = latents["valid"] & (scores["anomaly_score"] < limit)
print(f"99th percentile of fresh simulated galaxies: {limit:.2f}")
print(f"{int(trusted.sum())} of {len(trusted)} rows pass the trust check")

# %%
# The stand-in serves simulated galaxies, so they pass. Real cutouts are
# not the training distribution: expect many more of them to score high,
# and read the scores as "unlike anything simulated", not as a guarantee
# for the others (:ref:`anomaly`).
#
# Posteriors, with the range they inherit
# ---------------------------------------
# Medians and central 68 and 95 per cent intervals of redshift, stellar mass
# and star-formation rate. The flow learnt them from simulated galaxies with
# 0.02 < z <= 1, log M* > 8 and r < 21.5: intervals never reach outside that
# prior, and galaxies fainter than r = 21.5 are extrapolations.

post = model.posterior(latents, n_samples=500, seed=0)
in_range = np.asarray(targets["mag_r"]) < 21.5
for name in post.colnames:
    post[name].info.format = ".2f"
print(post["redshift_median", "redshift_lo68", "redshift_hi68",
           "log_mstar_median"][:4])

# %%
# Join back and save
# ------------------
# The rows come back in the order of the input table, one each, so the
# results sit beside your own columns. Write them to a folder of yours; the
# ``meta`` records the model's name and SHA-256 and the package version.

keep = [*model.latent_names, "valid", "flag"]
medians = ["redshift_median", "log_mstar_median", "log_sfr_median"]
results = hstack([QTable(targets), latents[keep], scores["anomaly_score"],
                  post[medians]], metadata_conflicts="silent")
results.meta.update(latents.meta)
results["trusted"] = trusted
results["in_prior_range"] = in_range
folder = Path(tempfile.mkdtemp())  # your own folder here
path = folder / "my_galaxies_minuet.ecsv"  # or .fits, .parquet, .h5
results.write(path)
again = QTable.read(path)
print(again["name", "valid", "trusted", "in_prior_range",
            "redshift_median"][-4:])
print(again.meta["model"], again.meta["weights_sha256"][:16], "...")

# %%
# A last look
# -----------
# The fetched cutouts of the trusted rows, with the median redshift of each.
# The failed row was all masked, and is left out.

shown = np.flatnonzero(trusted)[:6]
redshifts = results["redshift_median"][shown]
plot_cutouts(cutouts.flux[shown], ncols=len(shown),
             titles=[f"z={z:.2f}" for z in redshifts])
plt.show()

server.shutdown()
server.server_close()
conf.reset("cutout_url")

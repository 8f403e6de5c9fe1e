"""
Your own cutouts
================

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
import textwrap
import threading
import warnings
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
from minuet.typicality import AtypicalWarning
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
print("failed:", cutouts.reason[~cutouts.valid][0])

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
print("flag:", latents["flag"][-1])

# %%
# The trust check
# ---------------
# ``encode`` has added the typicality columns (:ref:`typicality`).
# ``typicality`` is a p-value: the fraction of galaxies drawn like the
# training set that are *less* typical than this one, judged on its five
# numbers (``typicality_latent``) and on simple statistics of its own pixels
# (``typicality_image``: noise level, central signal-to-noise, colours,
# concentration). ``atypical`` is True below 0.05, so at most 5% of galaxies
# like the training set are flagged. Trust a row's answers only where it
# has a cutout and is not flagged. The failed row has no typicality
# (NaN) and is not trusted either.

for name in ("typicality", "typicality_latent", "typicality_image"):
    latents[name].info.format = ".2f"
print(latents["id", "typicality", "typicality_latent", "typicality_image", "atypical"])
trusted = latents["valid"] & ~latents["atypical"]
print(f"{int(trusted.sum())} of {len(trusted)} rows are trusted: "
      f"{int(latents['atypical'].sum())} flagged atypical, "
      f"{int((~latents['valid']).sum())} without a cutout")

# %%
# Three of the twelve simulated galaxies are flagged here, more than the 5%
# that the flag allows for galaxies like the training set. That is the
# chance of so small a set: the 5% holds on average, and 300 fresh
# simulated galaxies give the long-run rate.

fresh_images, fresh_invvar, _, _ = simulate(300, seed=2028)
fresh = model.encode(fresh_images, invvar=fresh_invvar)
print(f"flagged among 300 fresh simulated galaxies: {np.mean(fresh['atypical']):.1%}")

# %%
# Real cutouts are not the training distribution: expect many more of them
# to be flagged (of the 14 real DR9 stamps in :ref:`validation-typicality`,
# 12 are), because real noise is correlated and real galaxies and PSFs
# differ from the simulator's. Read the flag as "this answer comes from
# outside what the model was validated on". An unflagged galaxy is no
# guarantee either: the simulator can share an error with the model
# (:ref:`simulate`).
#
# Posteriors, with the range they inherit
# ---------------------------------------
# Medians and central 68 and 95 per cent intervals of redshift, stellar mass
# and star-formation rate. The flow learnt them from simulated galaxies with
# 0.02 < z <= 1, log M* > 8 and r < 21.5: intervals never reach outside that
# prior, and galaxies fainter than r = 21.5 are extrapolations. Given the
# table of ``encode``, ``posterior`` copies the ``atypical`` flag into its
# own table and warns once, with an `~minuet.typicality.AtypicalWarning`,
# when any row is flagged; the warning is shown here, then silenced as any
# warning can be once read.

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always", AtypicalWarning)
    post = model.posterior(latents, n_samples=500, seed=0)
for warning in caught:
    print(textwrap.fill(f"{warning.category.__name__}: {warning.message}", width=70))
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

keep = [*model.latent_names, "valid", "flag", "typicality", "atypical"]
medians = ["redshift_median", "log_mstar_median", "log_sfr_median"]
results = hstack([QTable(targets), latents[keep], post[medians]],
                 metadata_conflicts="silent")
results.meta.update(latents.meta)
results["trusted"] = trusted
results["in_prior_range"] = in_range
folder = Path(tempfile.mkdtemp())  # your own folder here
path = folder / "my_galaxies_minuet.ecsv"  # or .fits, .parquet, .h5
results.write(path)
again = QTable.read(path)
print(again["name", "valid", "atypical", "trusted", "in_prior_range",
            "redshift_median"][-4:])
print(again.meta["model"], again.meta["weights_sha256"][:16], "...")

# %%
# A last look
# -----------
# The fetched cutouts of the first six trusted rows, with the median
# redshift of each. The failed row and the flagged ones are left out.

shown = np.flatnonzero(trusted)[:6]
redshifts = results["redshift_median"][shown]
plot_cutouts(cutouts.flux[shown], ncols=len(shown),
             titles=[f"z={z:.2f}" for z in redshifts])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# The fetched cutouts of the first trusted rows (a cutout, not flagged
# atypical), titled with their median redshift.

server.shutdown()
server.server_close()
conf.reset("cutout_url")

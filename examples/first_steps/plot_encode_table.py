"""
Encode a table of cutouts
=========================

Most catalogue work starts from a table: one row per galaxy, an identifier,
a few measured quantities and the g, r, z cutout itself. `minuet.Minuet.encode`
takes such a table directly and returns it with five new columns, the
galaxy's latent, plus quality flags. Here the table is built from the
package's simulator, so every galaxy also has a true redshift to compare
with; with your own survey you would fill the ``cutout`` column from FITS
or HDF5 files instead.
"""

import textwrap

import matplotlib.pyplot as plt
import numpy as np
from astropy.table import QTable
from scipy.stats import spearmanr

from minuet import Minuet
from minuet.cutouts import nanomaggy
from minuet.simulate import simulate
from minuet.visualization import corner_plot

model = Minuet.pretrained()

# %%
# A catalogue with cutouts in it
# ------------------------------
# The simulator returns flux in nanomaggies, the per-pixel inverse variance
# and a truth catalogue. We put the images and their inverse variances in
# table columns, next to an identifier and the true redshift.

images, invvar, footprint, truth = simulate(300, seed=11)
catalogue = QTable()
catalogue["objid"] = [f"SIM-{i:05d}" for i in range(len(images))]
catalogue["cutout"] = images * nanomaggy
catalogue["cutout_invvar"] = invvar * nanomaggy**-2
catalogue["z_true"] = truth["redshift"]
catalogue["mag_r"] = truth["mag_r"]

# %%
# Encoding
# --------
# ``column`` names the image column and ``invvar`` the inverse-variance
# column (pixels with zero inverse variance are treated as masked). The
# output keeps the table's own columns and adds ``latent_0`` ...
# ``latent_4``, ``valid``, ``flag`` (why a cutout was refused, if it was),
# ``masked_fraction`` and the typicality columns, whose ``atypical`` flags
# galaxies unlike the training set (:ref:`typicality`). The ``meta``
# records which weights made the numbers, so that the table can be traced
# later. Below: the names of all the columns, then the first rows of a few.

encoded = model.encode(catalogue, column="cutout", invvar="cutout_invvar", ids="objid")
print(textwrap.fill("columns: " + ", ".join(encoded.colnames), width=70))
shown = encoded["objid", "z_true", *model.latent_names, "atypical"]
for name in ["z_true", *model.latent_names]:
    shown[name].info.format = ".3f"
shown[:8].pprint(max_width=-1)
print({key: encoded.meta[key] for key in ("model", "minuet_version") if key in encoded.meta})
print(f"{encoded['valid'].sum()} of {len(encoded)} cutouts encoded")

# %%
# What the five numbers track
# ---------------------------
# The latent is unsupervised: the encoder was never told any redshift. A
# scatter matrix coloured by true redshift shows whether and along which
# directions distance (through apparent size, brightness and colour) is
# nevertheless encoded. `~minuet.visualization.corner_plot` draws it: each
# panel pairs two latent dimensions, the diagonal shows the distribution of
# each, and ``color_by`` colours every galaxy by its true redshift.

names = model.latent_names
good = encoded["valid"]
latents = np.stack([encoded[name][good] for name in names], axis=1)
redshift = np.asarray(encoded["z_true"][good])

fig, _ = plt.subplots(len(names), len(names), figsize=(8, 8), layout="constrained")
corner_plot(latents, labels=names, bins=20, color_by=redshift, color_label="true redshift",
            vmin=0, contours=False, fig=fig)
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Latent against latent for every pair of the five numbers (below the
# diagonal), each point a simulated galaxy coloured by its true redshift;
# the diagonal shows each number's distribution.
#
# A simple number to watch: how strongly each latent dimension ranks with
# redshift (Spearman rank correlation). For a trained model at least one
# dimension usually carries redshift information; the printed values come
# from this sample.

for i, name in enumerate(names):
    rho = spearmanr(latents[:, i], redshift).statistic
    print(f"{name}: Spearman rho with true redshift = {rho:+.2f}")

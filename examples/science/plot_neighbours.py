"""
Galaxies like this one
======================

Nearest neighbours in the five-number latent space find galaxies that look
alike. Here a simulated catalogue of a few hundred galaxies is encoded, and
for a few query galaxies the most similar ones are shown. Turning a query
galaxy by 90 degrees should not change which galaxies it resembles.
"""

import matplotlib.pyplot as plt
import numpy as np

from minuet import Minuet
from minuet.simulate import simulate
from minuet.visualization import plot_cutouts

model = Minuet.pretrained()
images, invvar, footprint, truth = simulate(400, seed=808)
catalogue = model.encode(images, invvar=invvar)
catalogue["redshift"] = truth["redshift"]

# %%
# Query galaxies and their five nearest neighbours
# ------------------------------------------------
# The first column holds the query galaxy; its nearest neighbour is itself.

queries = [0, 1, 2]
k = 6
near = model.neighbours(catalogue[queries], k=k, catalogue=catalogue)
rows = np.asarray(near["catalog_index"]).reshape(len(queries), k)
titles = [f"z={truth['redshift'][i]:.2f}" for i in rows.ravel()]
plot_cutouts(images[rows.ravel()], ncols=k, titles=titles)
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Each row: a query galaxy (first panel) and its five nearest neighbours in
# the latent space, titled with their true redshifts.
#
# Robust to orientation
# ---------------------
# The same search after turning every query galaxy by 90 degrees.

turned = np.rot90(images[:50], 1, axes=(2, 3)).copy()
turned_iv = np.rot90(invvar[:50], 1, axes=(2, 3)).copy()
before = model.neighbours(catalogue[:50], k=10, catalogue=catalogue)
after = model.neighbours(model.encode(turned, invvar=turned_iv), k=10, catalogue=catalogue)
a = np.asarray(before["catalog_index"]).reshape(50, 10)
b = np.asarray(after["catalog_index"]).reshape(50, 10)
kept = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)])
print(f"neighbours kept among the 10 nearest after a 90 degree turn: {100 * kept:.0f}%")

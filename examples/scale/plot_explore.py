"""
Explorer in a notebook
======================

``minuet explore`` opens a page in the browser with a scatter of a
catalogue's latents and a panel for the selected galaxy. In a notebook,
:func:`minuet.explore` starts the same page in the background and returns at
once, so the notebook stays usable. Here the bundled reference catalogue
(thousands of simulated galaxies) is opened, and the explorer's data layer is used
directly to draw what the page shows.
"""

import textwrap
import urllib.request

import matplotlib.pyplot as plt
import numpy as np

import minuet
from minuet import Minuet
from minuet.explorer import ExplorerData, build_layout, reference_catalogue

model = Minuet.pretrained()
data = ExplorerData(reference_catalogue(model), model=model)

# %%
# Start the explorer without blocking
# -----------------------------------
# ``show=True`` (the default) would also open a browser tab. The server runs
# in a background thread on 127.0.0.1 until ``stop()``.

server = minuet.explore(data, show=False)
with urllib.request.urlopen(server.url, timeout=60) as page:
    print(server.url, "answers with HTTP status", page.status)
server.stop()

# %%
# The page as a Bokeh layout
# --------------------------
# :func:`~minuet.explorer.build_layout` builds the same page without a
# server: a static snapshot (``bokeh.io.show(layout)`` displays it in a
# notebook). Its scatter holds a decimated sample of a large catalogue;
# the status line says how many of the galaxies it draws.

layout = build_layout(data)
points = layout.select_one({"name": "points"}).data
print(textwrap.fill(layout.select_one({"name": "status"}).text, width=70))

# %%
# What the page draws
# -------------------
# The scatter's first two principal components of the latents, coloured by
# redshift, over the density of every galaxy; and, for one selected galaxy,
# its posterior histograms with the 68% intervals and its class
# probabilities.

xy = data.project("pca")
x_range, y_range = data.limits(xy)
counts = data.density(xy, x_range=x_range, y_range=y_range, bins=120)
row = data.find("17")
details = data.details(row)

fig = plt.figure(figsize=(9, 3.6))
ax = fig.add_subplot(1, 3, 1)
ax.imshow(np.log1p(counts), origin="lower", cmap="Greys", alpha=0.6, aspect="auto",
          extent=(*x_range, *y_range))
shown = ax.scatter(points["x"], points["y"], c=points["c"], s=1, cmap="viridis")
ax.scatter(*xy[row], s=150, facecolor="none", edgecolor="red", linewidth=2)
fig.colorbar(shown, ax=ax, label="redshift")
ax.set(xlabel="PCA 1", ylabel="PCA 2", title=f"{len(points['x']):,} of {len(data):,} drawn")
for i, name in enumerate(["redshift", "log_mstar"]):
    post = details["posterior"][name]
    ax = fig.add_subplot(1, 3, 2 + i)
    ax.stairs(post["counts"], post["edges"], fill=True, color="steelblue")
    ax.axvspan(post["lo68"], post["hi68"], color="orange", alpha=0.25, label="68% interval")
    ax.axvline(details["values"][name], color="k", ls="--", label="truth")
    ax.set(xlabel=name, yticks=[], title=f"galaxy {details['id']}")
    ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Left: the points of the explorer's scatter, coloured by redshift, over
# the grey density of the whole catalogue (hidden here, where every
# galaxy is drawn; it shows around the points of a decimated sample),
# the selected galaxy circled in red. Middle and
# right: that galaxy's posterior of redshift and stellar mass, its 68%
# interval (orange) and the truth (dashed).

print({label: round(p, 2) for label, p in details["classes"].items()})

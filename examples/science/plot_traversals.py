"""
Latent traversals
=================

A latent traversal changes one latent number at a time and lets the
diffusion decoder draw the galaxy that goes with it. Here a reference galaxy
is encoded, each of its five numbers in turn is swept from the 5th to the
95th percentile of a simulated catalogue while the other four stay fixed,
and every image is drawn from the same starting noise, so that what changes
along a row is due to that one number alone.

The simulator's truth catalogue then says which physical or observational
parameter each number follows most closely, by Spearman's rank correlation.
Nothing in the training asks the five numbers to be independent of each
other or to mean anything in particular (the latent is not regularised), so
expect mixtures rather than one clean parameter per number.

The bundled model is trained on simulations only; the traversals show what
it learned about the simulator's galaxies.
"""

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import spearmanr

from minuet import Minuet
from minuet.simulate import simulate
from minuet.visualization import plot_cutouts

model = Minuet.pretrained()
images, invvar, footprint, truth = simulate(300, seed=2024)
catalogue = model.encode(images, invvar=invvar)
latents = np.stack([np.asarray(catalogue[name]) for name in model.latent_names], axis=1)

# %%
# The catalogue range of each number
# ----------------------------------
# The sweep runs between the 5th and 95th percentiles of the catalogue, so
# every image along it is of a kind the decoder has seen. The reference
# galaxy is the one whose latent lies closest to the catalogue's median, in
# units of each number's spread.

low, median, high = np.percentile(latents, [5, 50, 95], axis=0)
distance = np.sum(((latents - median) / latents.std(axis=0)) ** 2, axis=1)
reference = int(np.argmin(distance))
for i, name in enumerate(model.latent_names):
    print(f"{name}: 5% {low[i]:6.2f}, median {median[i]:6.2f}, 95% {high[i]:6.2f}; "
          f"reference {latents[reference, i]:6.2f}")

# %%
# Traversals
# ----------
# Row ``i`` varies ``latent_i`` only. Every image is drawn with the same
# ``seed``, hence from the same initial noise; the sampler is deterministic
# after that, so neighbouring panels differ only through the latent.

n_steps = 5
sweeps = []
for i in range(model.latent_dim):
    for value in np.linspace(low[i], high[i], n_steps):
        latent = latents[reference].copy()
        latent[i] = value
        sweeps.append(model.reconstruct(latent, seed=7).data[0])
sweeps = np.array(sweeps)
titles = [f"{value:.2f}" for i in range(model.latent_dim)
          for value in np.linspace(low[i], high[i], n_steps)]
fig = plot_cutouts(sweeps, ncols=n_steps, titles=titles, rows=model.latent_names)
fig.suptitle("5th to 95th percentile, one number at a time")
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Each row moves one latent number from its 5th to its 95th percentile
# (panel titles: its value), the other four held at the reference galaxy's
# own; every panel is drawn from the same starting noise.
#
# Read along the rows: ``latent_0`` turns the galaxy from red to blue,
# ``latent_2`` spreads its light out while dimming it, ``latent_4`` dims it
# at nearly constant size and colour. Towards the ends of some rows the
# decoder also adds or removes neighbours around the galaxy: the five
# numbers describe the whole cutout, not the central galaxy alone.
#
# The reference galaxy itself, beside its reconstruction with the same seed:

plot_cutouts(np.concatenate([images[reference:reference + 1],
                             model.reconstruct(latents[reference], seed=7).data]),
             ncols=2, titles=["simulated input", "reconstruction"])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# The reference galaxy (left) and its reconstruction with the same seed as
# the traversals (right).
#
# Which truth parameter does each number follow?
# ----------------------------------------------
# Spearman's rank correlation of each latent number with a choice of truth
# parameters over the 300 galaxies: the observed r magnitude and g - z
# colour, the rest-frame g - r colour, the half-light radius, and the
# physical quantities behind them.

truth["g_minus_z"] = truth["mag_g"] - truth["mag_z"]
parameters = ["mag_r", "g_minus_z", "rest_gr", "half_light_radius", "axis_ratio",
              "bulge_fraction", "arm_strength", "redshift", "log_mstar", "log_sfr",
              "companion", "psf_fwhm_r"]
rho = np.array([[spearmanr(latents[:, i], np.asarray(truth[p], dtype=float)).statistic
                 for p in parameters] for i in range(model.latent_dim)])

fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
shown = ax.imshow(rho, cmap="RdBu_r", vmin=-1, vmax=1)
ax.set_xticks(range(len(parameters)), parameters, rotation=45, ha="right")
ax.set_yticks(range(model.latent_dim), model.latent_names)
for (i, j), value in np.ndenumerate(rho):
    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
            color="white" if abs(value) > 0.6 else "black")
fig.colorbar(shown, ax=ax, label="Spearman rank correlation")
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Spearman rank correlation of each latent number (rows) with truth
# parameters of the simulator (columns), over 300 simulated galaxies.
#
# The strongest correlation of each number:

for i, name in enumerate(model.latent_names):
    best = int(np.argmax(np.abs(rho[i])))
    print(f"{name} follows {parameters[best]} most closely (Spearman rho = {rho[i, best]:+.2f})")

# %%
# Brightness and colour dominate: they are the largest differences between
# simulated galaxies in pixel space, and what the bundled model reconstructs
# best (:ref:`model_card`). Several numbers share the r magnitude, each
# mixing it with something else (redshift, size, colour); the panels above
# show those mixtures directly. A model trained longer, or on real galaxies,
# will arrange its five numbers differently: repeat this recipe on your own
# model before reading meaning into any one of them.

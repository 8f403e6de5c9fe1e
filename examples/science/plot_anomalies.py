"""
Unusual galaxies
================

`minuet.Minuet.anomaly_score` says how improbable a galaxy's five numbers
are under the density of latents of the bundled model's reference catalogue
(a Gaussian mixture fitted to 20,000 simulated galaxies): 0 is typical, and
a score of 5 is five robust standard deviations less probable than typical.
Here a fresh simulated catalogue is scored, the most and the least unusual
galaxies are shown, and the truth catalogue says what the unusual ones are.

The catalogue and the model are both simulated: this recipe shows how to run
the search and how to check what it finds, not what it would find on the
real sky.
"""

import matplotlib.pyplot as plt
import numpy as np

from minuet import Minuet
from minuet.simulate import simulate
from minuet.visualization import plot_cutouts

model = Minuet.pretrained()
images, invvar, footprint, truth = simulate(400, seed=31)
latents = model.encode(images, invvar=invvar)
scores = model.anomaly_score(latents)
score = np.asarray(scores["anomaly_score"])
order = np.argsort(score)[::-1]  # most anomalous first
print(f"anomaly scores: median {np.median(score):.2f}, "
      f"95th percentile {np.percentile(score, 95):.2f}, highest {score.max():.2f}")

# %%
# The most and the least unusual
# ------------------------------
# Top row: the eight highest scores; bottom row: the eight lowest. Each
# panel is titled with its score.

shown = np.concatenate([order[:8], order[-8:]])
plot_cutouts(images[shown], ncols=8, titles=[f"{score[i]:.1f}" for i in shown],
             rows=["most unusual", "least unusual"])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Top row: the eight simulated galaxies with the highest anomaly scores;
# bottom row: the eight with the lowest. Titles: the scores.
#
# What they are
# -------------
# The truth catalogue of the simulator records, for every galaxy, whether it
# has an interacting companion (a merger), whether a star or a field galaxy
# falls in the cutout, whether part of the cutout is masked, and its
# morphology labels. Compare how often each holds among the 5 per cent most
# unusual galaxies and in the whole catalogue.

top = order[: len(order) // 20]
features = {
    "merger": np.asarray(truth["merger"]),
    "star in cutout": np.asarray(truth["n_stars"]) > 0,
    "field galaxy in cutout": np.asarray(truth["n_neighbours"]) > 0,
    "masked pixels": np.asarray(truth["masked_fraction"]) > 0,
    "round": np.asarray(truth["round"]),
    "spiral arms": np.asarray(truth["spiral_arms"]),
    "edge-on": np.asarray(truth["edge_on"]),
}
in_top = np.array([feature[top].mean() for feature in features.values()])
in_all = np.array([feature.mean() for feature in features.values()])
for name, a, b in zip(features, in_top, in_all, strict=True):
    print(f"{name:>24s}: {100 * a:5.1f}% of the {len(top)} most unusual, {100 * b:5.1f}% of all")

fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
y = np.arange(len(features))
ax.barh(y - 0.2, 100 * in_top, height=0.4, label=f"{len(top)} most unusual")
ax.barh(y + 0.2, 100 * in_all, height=0.4, label=f"all {len(order)}", color="grey")
ax.set_yticks(y, list(features))
ax.invert_yaxis()
ax.set_xlabel("per cent of galaxies")
ax.legend(loc="lower right")
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# How often each property of the truth catalogue holds among the 5% most
# unusual galaxies (blue) and among all of them (grey).
#
# Ratios above 1: more common among the most unusual than in the whole
# catalogue. With 20 galaxies in the top 5 per cent, each one is 5 per cent:
# read the bars as rough.

for name, a, b in zip(features, in_top, in_all, strict=True):
    print(f"{name:>24s}: {a / b:4.1f} times as common among the most unusual")

# %%
# Size, distance and brightness of the most unusual against all:

for name in ("redshift", "half_light_radius", "mag_r"):
    values = np.asarray(truth[name])
    unit = truth[name].unit or ""
    print(f"median {name}: {np.median(values[top]):.2f} {unit} among the most unusual, "
          f"{np.median(values):.2f} {unit} in all")

# %%
# A density in five numbers finds what is rare in five numbers. Here that
# is mostly cutouts where a star sits on or beside the central galaxy,
# cutouts with masked pixels, and very round galaxies: each is about two
# and a half times as common among the most unusual as in the whole
# catalogue. Spiral arms and edge-on disks are about three times rarer
# among them, and mergers about as common as everywhere (one more in the
# 20 than their share: no difference at this size). In size, distance and
# brightness the unusual galaxies are much like the rest: a little nearer,
# about as large, and about a tenth of a magnitude fainter in the median.
# A companion or a thin disk moves the five numbers less than a bright
# star does, so a merger search is better served by the classifier of the
# morphology recipe. A galaxy can also be unusual because five numbers
# cannot describe it; a per-galaxy reconstruction error adds that term.
#
# Can five numbers describe them?
# -------------------------------
# The six most unusual galaxies above their reconstructions. Reconstructions
# are the slow part of the package on a CPU, so in a real search they are
# drawn only for the candidates that the density picks out, and their
# reduced chi-squared (`~minuet.evaluation.compare_reconstructions`) enters
# ``anomaly_score(latents, reconstruction_error=...)`` for those.
#
# The reconstructions are poor likenesses, with the light smeared out and
# blobs where there were none: the model has seldom seen anything like
# these galaxies, which is what the density score said.

candidates = order[:6]
recon = model.reconstruct(latents[candidates], seed=3)
plot_cutouts(np.concatenate([images[candidates], recon.data]), ncols=6,
             rows=["input", "reconstruction"])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Top row: the six most unusual galaxies; bottom row: one reconstruction of
# each from its five numbers.

"""
Morphology
==========

The bundled model carries one small classifier per Galaxy Zoo style label:
merger, spiral arms, edge-on disk and round. They read only the latent. On
simulated galaxies the truth labels are known, so the receiver operating
characteristic (ROC) curve of each classifier can be drawn directly.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from minuet import Minuet
from minuet.evaluation import binary_metrics
from minuet.simulate import simulate
from minuet.typicality import AtypicalWarning

# A few simulated galaxies are flagged atypical of the training set, and
# ``classify`` warns about them (see the typicality page); read once, the
# warning is silenced here and the flag kept in the ``atypical`` column.
warnings.simplefilter("ignore", AtypicalWarning)

model = Minuet.pretrained()
images, invvar, footprint, truth = simulate(400, seed=515)
latents = model.encode(images, invvar=invvar)
probs = model.classify(latents)
for name in probs.colnames:
    if name.startswith("p_"):
        probs[name].info.format = ".2f"
print(probs[:5])
print(f"flagged atypical: {int(probs['atypical'].sum())} of {len(probs)}")

# %%
# ROC curves per label
# --------------------
# The diagonal is a classifier that guesses; the closer a curve runs to the
# top-left corner, the better the five numbers separate that label.

fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
for label in ("merger", "spiral_arms", "edge_on", "round"):
    truth_label = np.asarray(truth[label])
    p = np.asarray(probs[f"p_{label}"])
    fpr, tpr, _ = roc_curve(truth_label, p)
    auc = binary_metrics(truth_label, p)["roc_auc"]
    ax.plot(fpr, tpr, label=f"{label} (AUC {auc:.2f})")
ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
ax.set_xlabel("false positive rate")
ax.set_ylabel("true positive rate")
ax.legend()
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# ROC curve of each morphology classifier on 400 simulated galaxies, with
# its area under the curve; the dashed diagonal is guessing.

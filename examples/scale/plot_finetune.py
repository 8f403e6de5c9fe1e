"""
Fine-tuning
===========

The bundled model is trained on simulated galaxies only. To use minuet on
real survey cutouts, continue its training on them: the training engine
(`minuet.training`) reads HDF5 files of cutouts, starts from the bundled
weights (``init``) and writes checkpoints and a loss history to a run
folder. This recipe does a deliberately tiny run, a handful of optimiser
steps on about a hundred simulated galaxies, to show every step; a real
fine-tuning run is the same code with more data and many more steps.
"""

import json
import tempfile
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np

from minuet import Minuet
from minuet.models import load_model
from minuet.simulate import read_dataset, write_dataset
from minuet.training import CutoutFile, TrainingConfig, train
from minuet.visualization import plot_cutouts

workspace = tempfile.TemporaryDirectory(prefix="minuet-finetune-")
run_dir = Path(workspace.name)

# %%
# Training files
# --------------
# `~minuet.simulate.write_dataset` writes simulated galaxies in the layout
# the training engine reads: ``images`` (N, 3, 72, 72) in nanomaggies, in
# g, r, z order, their ``invvar`` (0 marks a masked pixel), the ``footprint``
# of the central galaxy, and the ``truth`` table.

sim_file = write_dataset(run_dir / "sim.h5", 96, seed=99)
with h5py.File(sim_file) as f:
    for name in ("images", "invvar", "footprint", "truth"):
        print(f"{name:>10s}: {(f[name].dtype.names and 'table of') or ''} {f[name].shape}")

# %%
# Real research sets need less. `~minuet.training.CutoutFile` reads any HDF5
# file whose ``images`` dataset holds (N, 3, S, S) g, r, z cutouts in
# nanomaggies with S of at least 72 (the 152 x 152 sets of Stein et al. 2021
# are centre-cropped to 72); ``invvar`` is optional (without it every finite
# pixel counts), and a missing ``footprint`` is computed with photutils
# segmentation. Such a file, with images only:

images, invvar, footprint, truth = read_dataset(sim_file, start=0, stop=64)
with h5py.File(run_dir / "images_only.h5", "w") as f:
    f.create_dataset("images", data=images)
plain = CutoutFile(run_dir / "images_only.h5")
x, weight = plain.read([0, 1])
print(f"{len(plain)} cutouts; network input {x.shape}; loss weights "
      f"{np.round(np.unique(weight).astype(float), 3).tolist()} (background, footprint)")

# %%
# The run
# -------
# One `~minuet.training.TrainingConfig` describes the run. Fine-tuning keeps
# the bundled model's architecture (``model``) and starts from its
# autoencoder weights (``init``). The learning rate is lower than for a run
# from scratch, so the first steps do not undo what the model knows. Here
# the run is 6 steps of 8 images; ``max_steps`` stops a call early, and
# running it again resumes from the run folder's checkpoint.

base = Minuet.pretrained()
config = TrainingConfig(
    data=(str(sim_file), str(run_dir / "images_only.h5")),
    output=str(run_dir / "run"),
    model=base.autoencoder.config,
    init=str(base.path / "autoencoder.safetensors"),
    steps=6,
    batch_size=8,
    learning_rate=5e-5,
    warmup_steps=4,
    log_every=1,
    validate_every=3,
    validation_fraction=0.1,
    validation_size=8,
    checkpoint_every=3,
)
print("starting from", Path(config.init).relative_to(base.path.parents[2]))
ema, history = train(config, max_steps=6, progress=False)

# %%
# The loss history
# ----------------
# ``train`` returns the history (also written to ``run/history.jsonl``):
# the training loss of every ``log_every`` steps and, every
# ``validate_every`` steps, the loss of the weights' moving average on the
# held-out galaxies.

steps = [row["step"] for row in history]
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
ax.plot(steps, [row["loss"] for row in history], "o-", label="training batches")
validated = [row for row in history if row["val_loss"] is not None]
ax.plot([row["step"] for row in validated], [row["val_loss"] for row in validated],
        "s", ms=8, label="held-out galaxies (EMA weights)")
ax.set_xlabel("step")
ax.set_ylabel("weighted denoising loss")
ax.legend()
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Loss of each training batch (circles) and of the moving-average weights on
# the held-out galaxies (squares) over the six steps.

# %%
print(sorted(path.name for path in (run_dir / "run").iterdir()))

# %%
# In this run the six training points rise, unevenly, from about 0.10 to
# 0.29, while the held-out loss stays level between steps 3 and 6. Each training
# point is one batch of eight galaxies at randomly drawn noise levels: six
# of them are too few to tell a trend of the model from the luck of the
# draw. The held-out loss is computed with fixed noise on fixed galaxies and
# is the one to watch. Six steps cannot improve the model, and the curves
# only show that the run works: a real fine-tuning run takes thousands of
# steps.
#
# Loading the result
# ------------------
# When all ``steps`` are done the moving-average weights are saved as
# ``run/model.safetensors`` with a JSON sidecar holding their SHA-256.
# Wrapped in `~minuet.Minuet`, with the flux stretch the model was trained
# with, they encode and reconstruct like the bundled model:

tuned = Minuet(load_model(run_dir / "run" / "model"), stretch=base.stretch,
               name="minuet-sim-2-finetuned")
test_images, test_invvar, _, _ = read_dataset(sim_file, start=90, stop=92)
before = base.reconstruct(base.encode(test_images, invvar=test_invvar), seed=5)
after = tuned.reconstruct(tuned.encode(test_images, invvar=test_invvar), seed=5)
plot_cutouts(np.concatenate([test_images, before.data, after.data]), ncols=2,
             rows=["input", "bundled", "fine-tuned"])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Two simulated galaxies (top), reconstructed by the bundled model (middle)
# and by the fine-tuned one (bottom), with the same seed.
#
# After six small steps at a low learning rate the fine-tuned model draws
# nearly the same images as the bundled one, as it should.
#
# The science heads (posterior, classifiers, neighbour catalogue, anomaly
# density) read the latent, which fine-tuning moves: fit them again on
# labelled galaxies with `~minuet.Minuet.fit_heads` before using them, then
# keep the whole model with `~minuet.Minuet.save`.
#
# The same run from the command line
# ----------------------------------
# The configuration round-trips through JSON; ``minuet train config.json``
# runs it, resuming from the checkpoint when started again, and
# ``torchrun --nproc-per-node=4 -m minuet.cli train config.json`` runs it
# on four GPUs (see :ref:`training`). A configuration for a real
# fine-tuning run, with ``real_run.to_json()`` written to ``config.json``:

real_run = TrainingConfig(
    data=("my_cutouts_1.h5", "my_cutouts_2.h5"),
    output="finetune-run",
    model=base.autoencoder.config,
    init="minuet/data/minuet-sim-2/autoencoder.safetensors",
    steps=20_000,
    batch_size=128,
    learning_rate=5e-5,
)
text = json.loads(real_run.to_json())
text["model"] = "{... the bundled model's architecture, as written by to_json() ...}"
print(json.dumps(text, indent=1))

workspace.cleanup()

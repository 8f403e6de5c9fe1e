"""
Hubble eXtreme Deep Field
=========================

.. warning::

   **Out of distribution.** Everything in this recipe runs the bundled
   model, trained on simulated Legacy Surveys g, r, z cutouts, on a
   press-release colour JPEG from another telescope. The latents,
   reconstructions, neighbours and scores below show the mechanics of
   running minuet on images you have; they are not measurements, and
   no number from them should be used for science.

scikit-image ships a colour picture of the Hubble eXtreme Deep Field
(``skimage.data.hubble_deep_field()``, 872 x 1000 pixels, no download
needed). This recipe treats it the way one would treat a survey image:
estimate and subtract the background and detect sources with photutils, cut
72 x 72 stamps around the brightest extended sources, encode them, draw
them back from their five numbers, and look for their nearest neighbours
among simulated galaxies.

Why the numbers must not be trusted:

* **Another telescope and other bands.** The picture combines optical and
  near-infrared Hubble filters into red, green and blue channels; which
  filters feed which channel, and with which weights, is an aesthetic
  choice of the picture's makers. None of them is a DECam g, r or z band.
* **Another resolution and depth.** Hubble's images are ten times sharper
  than ground-based seeing and the field is far deeper than the Legacy
  Surveys: the galaxies here are mostly faint and at high redshift, unlike
  the simulated z < 1 galaxies the model was trained on.
* **Not flux.** A JPEG holds 8-bit display levels after a non-linear
  stretch, clipped at 255 in bright cores, with compression artefacts; its
  noise is not the sky noise of a calibrated image.
* **An unknown pixel scale.** The picture's pixel scale is not recorded
  with it; the field's width of a little over two arcminutes makes it about
  0.14 arcsec per pixel.
"""

import matplotlib.pyplot as plt
import numpy as np
from astropy.convolution import convolve
from photutils.background import Background2D, MedianBackground
from photutils.segmentation import (
    SourceCatalog,
    deblend_sources,
    detect_sources,
    make_2dgaussian_kernel,
)
from skimage import data

from minuet import Minuet
from minuet.simulate import SimulationConfig, simulate
from minuet.visualization import plot_cutouts

picture = data.hubble_deep_field()
print(picture.shape, picture.dtype)

# %%
# From display levels to pseudo-fluxes
# ------------------------------------
# Three documented choices turn the picture into something shaped like a
# g, r, z cutout in nanomaggies:
#
# 1. **Bands.** The channels are put in wavelength order: blue stands in for
#    g, green for r and red for z.
# 2. **Pixels.** Blocks of 2 x 2 pixels are averaged, bringing the pixel
#    scale (about 0.14 arcsec) near the Legacy Surveys' 0.262 arcsec, so
#    that a 72 x 72 stamp covers about the same patch of sky.
# 3. **Levels.** A photutils `~photutils.background.Background2D` estimate is
#    subtracted from each channel, and all three channels are multiplied by
#    one common gain, chosen so that the background noise of the green
#    channel equals the Legacy Surveys' per-pixel sky noise in r. A common
#    gain keeps the picture's colour balance: an object that is white in the
#    picture gets equal flux in g, r and z (AB colours of zero). The noise in
#    the g and z stand-ins then differs from the survey's.

levels = picture.astype(float)
ny, nx = (s // 2 * 2 for s in levels.shape[:2])
binned = levels[:ny, :nx].reshape(ny // 2, 2, nx // 2, 2, 3).mean(axis=(1, 3))
channels = np.moveaxis(binned, -1, 0)[::-1]  # (blue, green, red) -> (g, r, z)

backgrounds = [Background2D(plane, 32, filter_size=3, bkg_estimator=MedianBackground())
               for plane in channels]
noise = np.array([np.median(b.background_rms) for b in backgrounds])
gain = SimulationConfig().sky_sigma[1] / noise[1]  # nanomaggy per display level
flux = np.stack([(plane - b.background) * gain
                 for plane, b in zip(channels, backgrounds, strict=True)])
sigma = noise * gain
print("background noise per pixel [pseudo-nanomaggy]: "
      + ", ".join(f"{band} {s:.4f}" for band, s in zip("grz", sigma, strict=True)))

# %%
# Detecting the sources
# ---------------------
# Sources are detected on the noise-weighted sum of the three planes,
# smoothed with a Gaussian of 2 pixels FWHM, at 3 sigma over at least 10
# connected pixels, and overlapping sources are deblended. The "brightest
# extended" sources are the brightest segments of at least 40 pixels whose
# stamp fits inside the picture. Segmentation does not tell stars from
# galaxies: the field's one bright star, recognised by its diffraction
# spikes, is dropped by its position. Each stamp is centred on the
# brightest pixel of its source, as the Legacy Surveys cutouts of a
# catalogue are centred on the galaxy, and a source is kept only if it is
# the brightest object in its own stamp.

detection = np.sum(flux / sigma[:, None, None], axis=0) / np.sqrt(3)
kernel = make_2dgaussian_kernel(2.0, size=5)
smoothed = convolve(detection, kernel)
segments = detect_sources(smoothed, 3.0, n_pixels=10)
segments = deblend_sources(smoothed, segments, n_pixels=10, progress_bar=False)
sources = SourceCatalog(detection, segments, convolved_data=smoothed).to_table(
    columns=["label", "max_value_xindex", "max_value_yindex", "segment_flux", "area"])
print(f"{len(sources)} sources detected")

half = 36
x = np.asarray(sources["max_value_xindex"])  # each stamp is centred on its source's peak
y = np.asarray(sources["max_value_yindex"])
inside = (x >= half) & (x < flux.shape[2] - half) & (y >= half) & (y < flux.shape[1] - half)
star_x, star_y = 754 / 2, 578 / 2  # the star's position in the picture, binned
not_star = np.hypot(x - star_x, y - star_y) > 5
candidates = sources[inside & not_star & (sources["area"].value >= 40)]
candidates.sort("segment_flux", reverse=True)
# keep a source only if it is the brightest thing in its own stamp
central = [detection[j - half:j + half, i - half:i + half].max() <= detection[j, i]
           for i, j in zip(candidates["max_value_xindex"], candidates["max_value_yindex"],
                           strict=True)]
chosen = candidates[central][:6]
cx = np.asarray(chosen["max_value_xindex"])
cy = np.asarray(chosen["max_value_yindex"])

fig, ax = plt.subplots(figsize=(7, 6.2), layout="constrained")
ax.imshow(picture[:ny:2, :nx:2], origin="upper")
for number, (i, j) in enumerate(zip(cx, cy, strict=True)):
    ax.add_patch(plt.Rectangle((i - half, j - half), 2 * half, 2 * half, fill=False,
                               color="yellow", lw=1))
    ax.text(i - half + 2, j - half + 2, str(number), color="yellow", va="top")
ax.set_title("the six stamps (2 x 2 binned pixels)")
ax.set_xticks([])
ax.set_yticks([])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# The Hubble eXtreme Deep Field at half resolution, with the six stamps
# chosen around isolated sources (yellow squares, numbered).
#
# Stamps, five numbers and reconstructions
# ----------------------------------------
# The stamps go to `~minuet.Minuet.encode` with their inverse variance from
# the background noise. The top row shows them through minuet's own g, r, z
# colour composite (which renders equal fluxes bluish, as most galaxies of
# the survey are redder than that); the bottom row shows one reconstruction
# of each from its five numbers.

stamps = np.stack([flux[:, j - half:j + half, i - half:i + half]
                   for i, j in zip(cx, cy, strict=True)])
invvar = np.broadcast_to(sigma[None, :, None, None] ** -2.0, stamps.shape)

model = Minuet.pretrained()
latents = model.encode(stamps, invvar=invvar)
for name in model.latent_names:
    latents[name].info.format = ".2f"
for name in ("typicality", "typicality_latent", "typicality_image"):
    latents[name].info.format = ".2g"
print(latents[["id", *model.latent_names]])

recon = model.reconstruct(latents, seed=4)
plot_cutouts(np.concatenate([stamps, recon.data]), ncols=6,
             titles=[str(n) for n in range(6)] + [""] * 6,
             rows=["Hubble stamp", "reconstruction"])
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Top row: the six Hubble stamps through minuet's colour composite; bottom
# row: one reconstruction of each from its five numbers.
#
# The reconstructions are centred blobs of roughly the stamps' size, but
# irregular and blue-grey where most stamps are pink and round: neither the
# colours nor the shapes of these galaxies survive five numbers learnt from
# simulated Legacy Surveys cutouts. The crowd of faint neighbours around
# them is lost too.
#
# Nearest simulated neighbours
# ----------------------------
# A neighbour search finds, for each Hubble stamp, the simulated galaxies
# whose five numbers lie closest. Here the catalogue is 300 freshly
# simulated galaxies, so that their images can be shown.

sim_images, sim_invvar, _, sim_truth = simulate(300, seed=606)
catalogue = model.encode(sim_images, invvar=sim_invvar)
k = 5
near = model.neighbours(latents[:4], k=k, catalogue=catalogue)
rows = np.asarray(near["catalog_index"]).reshape(4, k)
panels = np.concatenate([np.concatenate([stamps[q:q + 1], sim_images[rows[q]]])
                         for q in range(4)])
titles = [t for q in range(4)
          for t in [f"stamp {q}", *(f"d={d:.1f}" for d in near["distance"][q * k:(q + 1) * k])]]
plot_cutouts(panels, ncols=k + 1, titles=titles)
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Each row: a Hubble stamp (first panel) and its five nearest simulated
# galaxies in the latent space, titled with their distance d.
#
# The distances ``d`` are in units of the catalogue's spread of each
# latent number. Compare them with the distances between simulated
# galaxies and their own nearest neighbours:

own = model.neighbours(catalogue, k=2, catalogue=catalogue)
own_distance = np.asarray(own["distance"])[1::2]  # rank 1 is the galaxy itself
print(f"median distance of a simulated galaxy to its nearest neighbour: "
      f"{np.median(own_distance):.2f}")
print("each Hubble stamp's distance to its nearest: "
      + ", ".join(f"{d:.2f}" for d in near["distance"][::k]))
ratio = np.asarray(near["distance"][::k]) / np.median(own_distance)
print(f"ratios: {ratio.min():.1f} to {ratio.max():.1f}")

# %%
# Every Hubble stamp lies further from its nearest simulated galaxy than
# a simulated galaxy typically lies from its own (the ratios above), most
# of them two to three times as far: their neighbours are the closest of a
# poor match, not look-alikes.
#
# How far out of distribution?
# ----------------------------
# ``encode`` has also given every stamp its typicality (:ref:`typicality`):
# a p-value saying how many galaxies drawn like the training set are less
# typical, from the five numbers and from simple statistics of the stamp's
# own pixels (noise level, central signal-to-noise, colours,
# concentration). ``atypical`` flags those below 0.05: the model's trust
# check. The 300 simulated galaxies of the catalogue give the comparison.

print(latents["id", "typicality", "typicality_latent", "typicality_image", "atypical"])
print(f"flagged atypical: {int(np.sum(latents['atypical']))} of {len(latents)} Hubble stamps, "
      f"{int(np.sum(catalogue['atypical']))} of {len(catalogue)} simulated galaxies")

fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
floor = 1e-4  # typicality is above 0; the axis starts here
bins = np.geomspace(floor, 1, 29)
ax.hist(np.clip(catalogue["typicality"], floor, 1), bins=bins, color="grey",
        label=f"{len(catalogue)} simulated galaxies")
for n, value in enumerate(np.clip(latents["typicality"], floor, 1)):
    ax.axvline(value, color="tab:red", lw=1.5, label="Hubble stamps" if n == 0 else None)
ax.axvline(0.05, color="k", ls="--", lw=1, label="atypical below 0.05")
ax.set_xscale("log")
ax.set_xlabel("typicality")
ax.set_ylabel("galaxies")
ax.legend(loc="upper left")
plt.show()

# %%
# .. rst-class:: minuet-caption
#
# Typicality of the 300 simulated galaxies (grey) and of the six Hubble
# stamps (red lines), on a logarithmic axis; galaxies left of the dashed
# line are flagged atypical.
#
# All six stamps are flagged, with typicality of about 0.001 or less,
# among the lowest any input can get. The flag comes from the pixels:
# ``typicality_image`` is the lowest, because the noise level,
# signal-to-noise, colours and concentration of a JPEG stamp are unlike any
# simulated cutout's. The five numbers alone (``typicality_latent``) flag
# only one of them: a latent can look ordinary while the image is of the
# wrong kind. Of the 300 simulated galaxies, a few per cent are flagged,
# within the 5% the flag allows for galaxies like the training set.
#
# To use minuet on real survey data, start from calibrated g, r, z cutouts
# in nanomaggies with their inverse variance (:ref:`cutouts`), and fine-tune
# the model on a research set of such cutouts first (:ref:`training`). The
# picture used here is public domain (NASA, ESA; Hubble eXtreme Deep Field,
# 2012).

"""Simulated Legacy-Surveys-like g, r, z cutouts with a truth catalogue."""

import numpy as np
from astropy import units as u
from astropy.table import QTable

from .._vocabulary import AB_ZEROPOINT, DEFAULT_LABELS
from . import _photometry as phot
from . import _population as pop
from . import _render as render
from .config import SURVEYS, SimulationConfig
from .variants import variant_choices

__all__ = ["LABELS", "TRUTH_UNITS", "simulate"]

#: Boolean morphology labels with the meaning of Minuet's Galaxy Zoo targets.
LABELS = DEFAULT_LABELS

# Galaxies are drawn in blocks of this many; galaxy i is fully determined by
# the seed and i, whatever the chunking or the number of processes.
BLOCK = 256

# Wavelength scaling of the seeing, FWHM ~ lambda**-0.2 (Roddier 1981), with
# the DECam effective wavelengths (nm) of speclite's decam2014 curves.
_LAMBDA_EFF = np.array([489.0, 647.0, 920.0])
_SEEING_SCALE = (_LAMBDA_EFF / _LAMBDA_EFF[1]) ** -0.2

#: Unit of each truth-catalogue column that carries one, by column name.
TRUTH_UNITS = {
    "mag_g": u.mag,
    "mag_r": u.mag,
    "mag_z": u.mag,
    "half_light_radius": u.arcsec,
    "half_light_radius_kpc": u.kpc,
    "re_bulge": u.arcsec,
    "re_disk": u.arcsec,
    "re_bulge_kpc": u.kpc,
    "re_disk_kpc": u.kpc,
    "position_angle": u.deg,
    "inclination": u.deg,
    "pitch_angle": u.deg,
    "bar_angle": u.deg,
    "companion_sep": u.arcsec,
    "companion_sep_kpc": u.kpc,
    "companion_angle": u.deg,
    "dust_av": u.mag,
    "ebv_galactic": u.mag,
    "psf_fwhm_g": u.arcsec,
    "psf_fwhm_r": u.arcsec,
    "psf_fwhm_z": u.arcsec,
    "sky_offset_g": u.nmgy,
    "sky_offset_r": u.nmgy,
    "sky_offset_z": u.nmgy,
    "sky_sigma_g": u.nmgy,
    "sky_sigma_r": u.nmgy,
    "sky_sigma_z": u.nmgy,
    "psfdepth_g": u.mag,
    "psfdepth_r": u.mag,
    "psfdepth_z": u.mag,
    "companion_mag_r": u.mag,
    "x_offset": u.pix,
    "y_offset": u.pix,
}


def _block_seed(seed, kind, index):
    return np.random.SeedSequence(seed, spawn_key=(kind, index))


def _draw_block(block, seed, config):
    """Population and observing conditions of one block of galaxies."""
    rng = np.random.default_rng(_block_seed(seed, 0, block))
    n = BLOCK
    names = config.variants
    which = rng.integers(len(names), size=n)
    parts = [
        pop.draw_centrals(int(np.sum(which == k)), rng, config, variant_choices(v))
        if np.any(which == k)
        else None
        for k, v in enumerate(names)
    ]
    gal = {}
    for key, value in next(p for p in parts if p is not None).items():
        gal[key] = np.empty((n, *value.shape[1:]), dtype=value.dtype)
    for k, part in enumerate(parts):
        if part is not None:
            for key, value in part.items():
                gal[key][which == k] = value
    gal["variant"] = np.asarray(names, dtype=object)[which].astype(str)
    gal["psf_family"] = np.array([variant_choices(v)["psf"] for v in gal["variant"]])
    fwhm_r = np.clip(
        config.psf_fwhm_r * np.exp(config.psf_fwhm_scatter * rng.standard_normal(n)),
        *config.psf_fwhm_range,
    )
    gal["psf_fwhm"] = fwhm_r[:, None] * _SEEING_SCALE[None, :]
    gal["psf_beta"] = np.where(
        gal["psf_family"] == "moffat", rng.uniform(*config.moffat_beta_range, n), np.nan
    )
    # Scattered-light wings hold a few per cent of the light and scale as
    # wavelength**-2 (microroughness scattering; Racine 1996, PASP 108, 699).
    wing_r = rng.uniform(*config.psf_wing_range, n)
    gal["psf_wing"] = np.minimum(
        wing_r[:, None] * (_LAMBDA_EFF[1] / _LAMBDA_EFF[None, :]) ** 2, 0.3
    )
    shares = np.asarray(config.survey_fractions) / np.sum(config.survey_fractions)
    survey = rng.choice(len(SURVEYS), size=n, p=shares)
    gal["survey"] = np.asarray(SURVEYS)[survey]
    depth = np.asarray(config.survey_depth_offsets)[survey]  # (n, 3) mag deeper
    # A deeper coadd has more exposure: more electrons per nanomaggy.
    gal["gain_scale"] = 10.0 ** (0.8 * depth)
    gal["sky_sigma"] = (
        np.asarray(config.sky_sigma)[None, :]
        * 10.0 ** (-0.4 * depth)
        * np.exp(config.sky_sigma_scatter * rng.standard_normal((n, 3)))
    )
    gal["sky_residual"] = config.sky_residual * rng.standard_normal((n, 3, 3))
    gal["offset"] = rng.uniform(-0.5, 0.5, (n, 2))
    gal["arm_phase"] = rng.uniform(0.0, 2.0 * np.pi, n)
    gal["n_clumps"] = np.where(gal["clumpiness"] > 0, rng.integers(3, 12, n), 0)
    gal["bar_length"] = rng.uniform(0.8, 1.5, n)
    return gal


def _truth_columns(gal, sl, *, pixscale):
    """Truth-catalogue columns (before image-based ones) for a slice of a block.

    ``pixscale`` (arcsec per pixel) turns the PSF FWHM into pixels for the
    noise-equivalent area behind ``psfdepth_*``.
    """
    g = {k: v[sl] for k, v in gal.items()}
    z = g["redshift"]
    scale = phot.kpc_per_arcsec(z)
    total = g["fluxes"].sum(axis=1)
    mags = AB_ZEROPOINT - 2.5 * np.log10(total)
    bt = g["bulge_fraction"]
    disk_dominated = bt < 0.6
    axis_ratio = np.where(disk_dominated, g["q_disk"], g["q_bulge"])
    fwhm_pix = g["psf_fwhm"] / pixscale
    # Legacy Surveys "psfdepth": 5-sigma point source, noise-equivalent area
    # of a Gaussian PSF 4 pi sigma^2.
    nea = 4.0 * np.pi * (fwhm_pix / 2.3548) ** 2
    psfdepth = AB_ZEROPOINT - 2.5 * np.log10(5.0 * g["sky_sigma"] * np.sqrt(nea))
    comp = g["companion"]
    cols = {
        "redshift": z,
        "log_mstar": g["log_mstar"],
        "log_sfr": g["log_sfr"],
        "quenched": g["quenched"],
        "mag_g": mags[:, 0],
        "mag_r": mags[:, 1],
        "mag_z": mags[:, 2],
        "rest_gr": g["rest_gr"],
        "variant": g["variant"],
        "dust_av": g["dust_av"],
        "template_coeffs": g["template_coeffs"],
        "young_mass_fraction": g["young_mass_fraction"],
        "cww_index": g["cww_index"],
        "ebv_galactic": g["ebv_galactic"],
        "bulge_fraction": bt,
        "sersic_bulge": g["sersic_bulge"],
        "sersic_disk": np.ones_like(z),
        "re_bulge": g["re_bulge_kpc"] / scale,
        "re_disk": g["re_disk_kpc"] / scale,
        "re_bulge_kpc": g["re_bulge_kpc"],
        "re_disk_kpc": g["re_disk_kpc"],
        "axis_ratio": axis_ratio,
        "q_disk": g["q_disk"],
        "q_bulge": g["q_bulge"],
        "position_angle": g["position_angle"],
        "inclination": g["inclination"],
        "arm_strength": g["arm_strength"],
        "n_arms": g["n_arms"],
        "pitch_angle": g["pitch_angle"],
        "clumpiness": g["clumpiness"],
        "bar": g["bar"],
        "bar_fraction": g["bar_fraction"],
        "bar_angle": g["bar_angle"],
        "companion": comp,
        "companion_log_mstar": g["companion_log_mstar"],
        "companion_mag_r": np.where(
            comp,
            AB_ZEROPOINT - 2.5 * np.log10(np.maximum(g["companion_flux"][:, 1], 1e-30)),
            np.nan,
        ),
        "companion_sep": g["companion_sep_kpc"] / scale,
        "companion_sep_kpc": g["companion_sep_kpc"],
        "companion_angle": np.where(comp, g["companion_angle"], np.nan),
        "asymmetry": g["asymmetry"],
        "psf_fwhm_g": g["psf_fwhm"][:, 0],
        "psf_fwhm_r": g["psf_fwhm"][:, 1],
        "psf_fwhm_z": g["psf_fwhm"][:, 2],
        "sky_sigma_g": g["sky_sigma"][:, 0],
        "sky_sigma_r": g["sky_sigma"][:, 1],
        "sky_sigma_z": g["sky_sigma"][:, 2],
        "psfdepth_g": psfdepth[:, 0],
        "psfdepth_r": psfdepth[:, 1],
        "psfdepth_z": psfdepth[:, 2],
        "psf_family": g["psf_family"],
        "psf_beta": g["psf_beta"],
        "psf_wing_r": g["psf_wing"][:, 1],
        "survey": g["survey"],
        "sky_offset_g": g["sky_residual"][:, 0, 0] * g["sky_sigma"][:, 0],
        "sky_offset_r": g["sky_residual"][:, 1, 0] * g["sky_sigma"][:, 1],
        "sky_offset_z": g["sky_residual"][:, 2, 0] * g["sky_sigma"][:, 2],
        "x_offset": g["offset"][:, 0],
        "y_offset": g["offset"][:, 1],
    }
    # Labels with the meaning of the Galaxy Zoo answers (see the user guide).
    cols["merger"] = comp
    cols["spiral_arms"] = (g["arm_strength"] >= 0.15) & (g["inclination"] < 70.0) & (bt < 0.6)
    cols["edge_on"] = (bt < 0.6) & (g["inclination"] >= 77.0)
    cols["round"] = ~cols["merger"] & ~cols["spiral_arms"] & (axis_ratio >= 0.7)
    return cols


def _render_one(canvas, gal, i, index, seed, config, gains, densities):
    """Image, inverse variance, footprint and measured truth of one galaxy."""
    rng = np.random.default_rng(_block_seed(seed, 1, index))
    scale = phot.kpc_per_arcsec(gal["redshift"][i])
    pix = config.pixscale
    x0, y0 = gal["offset"][i] * pix
    params = {
        "x0": x0,
        "y0": y0,
        "pa": np.deg2rad(gal["position_angle"][i]),
        "n_bulge": gal["sersic_bulge"][i],
        "re_bulge": max(gal["re_bulge_kpc"][i] / scale, 0.02),
        "re_disk": max(gal["re_disk_kpc"][i] / scale, 0.05),
        "q_bulge": gal["q_bulge"][i],
        "q_disk": gal["q_disk"][i],
        "asymmetry": gal["asymmetry"][i],
        "tail_angle": np.deg2rad(gal["tail_angle"][i]),
        "n_arms": gal["n_arms"][i],
        "pitch": np.deg2rad(max(gal["pitch_angle"][i], 1.0)),
        "arm_phase": gal["arm_phase"][i],
        "n_clumps": gal["n_clumps"][i],
        "bar": gal["bar"][i],
        "bar_angle": np.deg2rad(gal["bar_angle"][i]),
        "tail": gal["companion"][i],
    }
    params["bar_length"] = gal["bar_length"][i] * params["re_disk"]
    comps = render.central_components(canvas, params, rng)
    flux = gal["fluxes"][i]  # (6, 3)
    central = [_weighted_sum(flux[:, b], comps) for b in range(3)]
    hlr = render.half_light_radius(central[1], canvas, x0, y0)

    if gal["companion"][i]:
        sep = gal["companion_sep_kpc"][i] / scale
        ang = np.deg2rad(gal["companion_angle"][i])
        comp = {
            "x0": x0 + sep * np.cos(ang),
            "y0": y0 + sep * np.sin(ang),
            "n": gal["companion_sersic"][i],
            "re": max(gal["companion_re_kpc"][i] / scale, 0.05),
            "q": gal["companion_q"][i],
            "pa": np.deg2rad(gal["companion_pa"][i]),
            "tail_angle": np.deg2rad(gal["tail_angle"][i]) + np.pi,
        }
        image = render.companion_image(canvas, comp, rng)
        for b in range(3):
            central[b] = central[b] + gal["companion_flux"][i, b] * image

    # Field galaxies and stars, uniformly over the padded area.
    half = 0.5 * canvas.nfine * canvas.scale
    area = (2.0 * half) ** 2
    field = [np.zeros_like(comps[0]) for _ in range(3)]
    n_gal = rng.poisson(densities[0] * area)
    choices = variant_choices(gal["variant"][i])
    mw = gal["mw_transmission"][i]
    if n_gal:
        others = pop.draw_field_galaxies(n_gal, rng, config, mw)
        for k in range(n_gal):
            xy = _away_from_centre(rng, half, 1.5)
            canvas.add_sersic(
                field,
                others["flux"][k],
                others["sersic"][k],
                max(others["re_arcsec"][k], 0.03),
                others["q"][k],
                np.deg2rad(others["pa"][k]),
                *xy,
            )
    n_star = rng.poisson(densities[1] * area)
    if n_star:
        stars = pop.draw_stars(n_star, rng, config)
        xy = np.array([_away_from_centre(rng, half, 1.5) for _ in range(n_star)])
        for b in range(3):
            canvas.deposit(field[b], xy[:, 0], xy[:, 1], stars["flux"][:, b] * mw[b])

    size = config.stamp_size
    model_central = np.empty((3, size, size))
    model = np.empty((3, size, size))
    for b in range(3):
        psf_ft = canvas.psf_transform(
            render.psf_profile(
                canvas.galsim,
                choices["psf"],
                gal["psf_fwhm"][i, b],
                gal["psf_beta"][i],
                gal["psf_wing"][i, b],
            )
        )
        model_central[b] = canvas.convolve_bin(central[b], psf_ft)
        # An empty field convolves to exact zeros: adding them changes no bit
        # of the noisy image or its variance, so it is skipped.
        model[b] = (
            model_central[b] + canvas.convolve_bin(field[b], psf_ft)
            if n_gal or n_star
            else model_central[b]
        )

    sky = gal["sky_sigma"][i]
    footprint = render.segmentation_footprint(
        model_central, sky, fwhm_pix=gal["psf_fwhm"][i, 1] / pix
    )
    gain = gains * gal["gain_scale"][i]
    var = sky[:, None, None] ** 2 + np.maximum(model, 0.0) / gain[:, None, None]
    image = model + np.sqrt(var) * rng.standard_normal(model.shape)
    image += render.sky_residual(gal["sky_residual"][i], sky, size)
    invvar = 1.0 / var
    _mask(invvar, rng, config)
    image[invvar == 0] = 0.0
    extra = {
        "half_light_radius": hlr,
        "half_light_radius_kpc": hlr * scale,
        "n_neighbours": n_gal,
        "n_stars": n_star,
        "masked_fraction": float(np.mean(invvar == 0)),
    }
    return image, invvar, footprint, extra


def _weighted_sum(weights, images):
    """``sum(w * image for w > 0)``, accumulated in place, in the same order.

    The components are non-negative and hold no negative zeros, so starting
    from the first term instead of from 0, and leaving out the terms whose
    image is None (an absent bar, arms, clumps or tail: all zeros), changes no
    bit. The bulge and the disk are always present.
    """
    total = None
    for w, image in zip(weights, images, strict=True):
        if w > 0 and image is not None:
            if total is None:
                total = w * image
            else:
                total += w * image
    return np.zeros_like(images[0]) if total is None else total


def _away_from_centre(rng, half, rmin):
    while True:
        xy = rng.uniform(-half, half, 2)
        if np.hypot(*xy) >= rmin:
            return xy


def _mask(invvar, rng, config):
    """Zero the inverse variance of bad columns and of edge strips."""
    size = invvar.shape[-1]
    for b in range(3):
        if rng.random() < config.bad_column_rate:
            col = rng.integers(size)
            start = rng.integers(0, size // 2) if rng.random() < 0.5 else 0
            invvar[b, start:, col] = 0.0
    if rng.random() < config.edge_rate:
        width = rng.integers(1, size // 4)
        side = rng.integers(4)
        view = np.rot90(invvar, k=side, axes=(1, 2))
        view[:, :, :width] = 0.0


def _gains(config):
    """Effective electrons per nanomaggy that make sky-limited noise consistent.

    The sky per pixel (nanomaggies) over its variance: source photons then
    add variance ``flux / gain``.
    """
    pix_area = config.pixscale**2
    sky = 10.0 ** (-0.4 * (np.asarray(config.sky_brightness) - AB_ZEROPOINT)) * pix_area
    return sky / np.asarray(config.sky_sigma) ** 2


def simulate_range(start, stop, *, seed, config):
    """Simulate galaxies ``start`` to ``stop - 1`` of the sequence for ``seed``."""
    canvas = render.Canvas(config)
    gains = _gains(config)
    densities = (
        pop.field_galaxy_density(config.neighbour_mag_limit, config.log_mstar_min),
        config.star_density / 3600.0,
    )
    n = stop - start
    size = config.stamp_size
    images = np.empty((n, 3, size, size), dtype=np.float32)
    invvar = np.empty_like(images)
    footprint = np.empty((n, size, size), dtype=bool)
    columns = []
    extras = []
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1):
        gal = _draw_block(block, seed, config)
        lo = max(start, block * BLOCK) - block * BLOCK
        hi = min(stop, (block + 1) * BLOCK) - block * BLOCK
        columns.append(_truth_columns(gal, slice(lo, hi), pixscale=config.pixscale))
        for i in range(lo, hi):
            index = block * BLOCK + i
            out = index - start
            images[out], invvar[out], footprint[out], extra = _render_one(
                canvas, gal, i, index, seed, config, gains, densities
            )
            extras.append(extra)
    truth = {k: np.concatenate([c[k] for c in columns]) for k in columns[0]}
    for key in extras[0]:
        truth[key] = np.array([e[key] for e in extras])
    truth = {"index": np.arange(start, stop), **truth}
    return images, invvar, footprint, truth


def truth_table(columns, *, seed, config):
    """Wrap truth columns in a QTable with units and provenance."""
    from .._vocabulary import version

    table = QTable()
    for key, value in columns.items():
        table[key] = value * TRUTH_UNITS[key] if key in TRUTH_UNITS else value
    table.meta.update(
        {"seed": int(seed), "minuet_version": version(), "simulator_config": config.to_json()}
    )
    return table


def simulate(n, *, seed=0, config=None, start=0):
    """Simulate Legacy-Surveys-like g, r, z cutouts of galaxies, in memory.

    Galaxies are drawn from published empirical relations (see
    the relations in :mod:`minuet.simulate`) under the modelling variants of
    ``config.variants`` (by default the training mixture; see
    `~minuet.simulate.VARIANTS`), rendered as bulge + disk systems with
    arms, clumps, bars, companions, field neighbours and stars, seen through
    per-band PSFs with scattered-light wings, with sky and source noise at
    the depth of the DECaLS, DES or BASS/MzLS area each cutout is drawn in.

    Parameters
    ----------
    n : int
        Number of galaxies.
    seed : int, optional
        Seed of the whole sequence: galaxy ``i`` depends only on ``seed`` and
        ``i``.
    config : `~minuet.simulate.SimulationConfig`, optional
        Survey and population settings; the defaults describe DECaLS DR9.
    start : int, optional
        Index of the first galaxy, to resume or split a sequence.

    Returns
    -------
    images : `~numpy.ndarray`, shape (n, 3, 72, 72), float32
        g, r, z flux in nanomaggies per pixel (0 where masked).
    invvar : `~numpy.ndarray`, shape (n, 3, 72, 72), float32
        Inverse variance per pixel, sky plus source noise; 0 where masked.
    footprint : `~numpy.ndarray`, shape (n, 72, 72), bool
        Segmentation of the central system in its noiseless image.
    truth : `~astropy.table.QTable`
        The truth catalogue, one row per galaxy, with units.

    Examples
    --------
    >>> from minuet.simulate import simulate
    >>> images, invvar, footprint, truth = simulate(2, seed=1)
    >>> images.shape, footprint.dtype
    ((2, 3, 72, 72), dtype('bool'))
    >>> bool(truth["redshift"].max() <= 1)
    True
    """
    config = SimulationConfig() if config is None else config
    n, start = _check_count(n, "n"), _check_count(start, "start", minimum=0)
    images, invvar, footprint, columns = simulate_range(start, start + n, seed=seed, config=config)
    return images, invvar, footprint, truth_table(columns, seed=seed, config=config)


def _check_count(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}; got {value!r}."
        raise ValueError(msg)
    return int(value)

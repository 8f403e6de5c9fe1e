"""Drawing galaxies, companions, field neighbours and stars.

Stellar mass and redshift come from the stellar mass function times the
comoving volume element; star formation, sizes and colours follow from the
relations in :mod:`minuet.simulate.relations`; light profiles and their
components follow the prescriptions documented on each helper below.
"""

import functools

import numpy as np

from . import _photometry as phot
from .relations import (
    mass_size_relation,
    quenched_fraction,
    star_forming_main_sequence,
    stellar_mass_function,
)

__all__ = []

# Component order for the central galaxy's light.
COMPONENTS = ("bulge", "disk", "arms", "clumps", "bar", "tail")

# Rest-frame template index (0 E, 1 Sbc, 2 Scd, 3 Im) as a function of the
# specific star-formation rate (yr^-1). A monotone mapping chosen so that
# quenched galaxies get the elliptical template and starbursts the irregular
# one, in line with the sSFR sequence of Hubble types (Kennicutt 1998, ARA&A
# 36, 189).
_SSFR_ANCHORS = (-11.5, -10.5, -9.9, -9.3)

# Quenched galaxies sit this far below the main sequence (dex), with this
# scatter: the quiescent peak of the sSFR distribution lies about 1-1.5 dex
# under the main sequence (Renzini & Peng 2015, ApJL 801, L29).
_QUENCHED_OFFSET = -1.3
_QUENCHED_SCATTER = 0.4
_MS_SCATTER = 0.2  # Speagle et al. (2014) true scatter


@functools.cache
def _mass_redshift_grid(z_min, z_max, log_mstar_min):
    """Cumulative probability over (z, log M) cells of Phi * dV/dz."""
    from astropy.cosmology import Planck18

    z_edges = np.linspace(z_min, z_max, 121)
    m_edges = np.arange(log_mstar_min, 12.51, 0.05)
    z_mid = 0.5 * (z_edges[1:] + z_edges[:-1])
    m_mid = 0.5 * (m_edges[1:] + m_edges[:-1])
    dvdz = Planck18.differential_comoving_volume(z_mid).to_value("Mpc3 / sr")
    phi = stellar_mass_function(m_mid[None, :], z_mid[:, None])
    weight = phi * (dvdz * np.diff(z_edges))[:, None] * np.diff(m_edges)[None, :]
    total_per_sr = weight.sum()
    cdf = np.cumsum(weight.ravel())
    return z_edges, m_edges, cdf / cdf[-1], total_per_sr


def _draw_mass_redshift(n, rng, z_min, z_max, log_mstar_min):
    z_edges, m_edges, cdf, _ = _mass_redshift_grid(z_min, z_max, log_mstar_min)
    cell = np.minimum(np.searchsorted(cdf, rng.random(n)), cdf.size - 1)
    iz, im = np.divmod(cell, m_edges.size - 1)
    z = z_edges[iz] + rng.random(n) * np.diff(z_edges)[iz]
    log_m = m_edges[im] + rng.random(n) * np.diff(m_edges)[im]
    return z, log_m


def _template_index(log_ssfr):
    return np.interp(log_ssfr, _SSFR_ANCHORS, np.arange(4.0))


def _physical(z, log_m, rng):
    """Star formation, structure and component light fractions."""
    n = z.size
    quenched = rng.random(n) < quenched_fraction(log_m, z)
    ms = star_forming_main_sequence(log_m, z)
    log_sfr = np.where(
        quenched,
        ms + _QUENCHED_OFFSET + _QUENCHED_SCATTER * rng.standard_normal(n),
        ms + _MS_SCATTER * rng.standard_normal(n),
    )
    log_ssfr = log_sfr - log_m

    # Bulge-to-total light ratio: higher in quenched galaxies and rising with
    # mass among star-forming ones (Bluck et al. 2014, MNRAS 441, 599; Lang
    # et al. 2014, ApJ 788, 11). Beta distributions with those means.
    mass_term = np.clip((log_m - 9.0) / 2.5, 0.0, 1.0)
    mean_bt = np.where(quenched, 0.65 + 0.2 * mass_term, 0.05 + 0.3 * mass_term)
    kappa = 6.0
    bt = rng.beta(mean_bt * kappa, (1.0 - mean_bt) * kappa)

    # Sizes: spheroids follow the early-type, disks the late-type relation of
    # van der Wel et al. (2014), each at the mass of its own component.
    m_bulge = log_m + np.log10(np.clip(bt, 1e-3, 1.0))
    m_disk = log_m + np.log10(np.clip(1.0 - bt, 1e-3, 1.0))
    mu_b, sig_b = mass_size_relation(m_bulge, z, quenched=True)
    mu_d, sig_d = mass_size_relation(m_disk, z, quenched=False)
    # Bulges are not followed below 0.1 kpc: such cores are unresolved anyway.
    re_bulge_kpc = np.maximum(10.0 ** (mu_b + sig_b * rng.standard_normal(n)), 0.1)
    re_disk_kpc = 10.0 ** (mu_d + sig_d * rng.standard_normal(n))

    n_bulge = np.where(quenched, rng.normal(4.0, 0.6, n), rng.uniform(1.5, 4.0, n))
    n_bulge = np.round(np.clip(n_bulge, 1.0, 6.0) * 4.0) / 4.0  # quantised: GalSim caches per index

    # Orientation. Disks are oblate with intrinsic thickness q0; the apparent
    # axis ratio is sqrt(cos^2 i + q0^2 sin^2 i) (Hubble 1926, ApJ 64, 321),
    # q0 ~ 0.08-0.18 (Padilla & Strauss 2008, MNRAS 388, 1321).
    cos_i = rng.random(n)
    q0 = rng.uniform(0.08, 0.18, n)
    q_disk = np.sqrt(cos_i**2 + q0**2 * (1.0 - cos_i**2))
    # Projected spheroids: the observed axis ratios of ellipticals peak near
    # 0.75 (Padilla & Strauss 2008); a Beta(5, 1.8) has that mode.
    q_bulge = np.maximum(
        np.where(bt > 0.5, rng.beta(5.0, 1.8, n), np.maximum(q_disk, rng.beta(5, 1.8, n))), 0.3
    )
    position_angle = rng.uniform(0.0, np.pi, n)

    disky = ~quenched & (bt < 0.6)
    # Grand-design or flocculent arms in most massive star-forming disks.
    has_arms = disky & (log_m > 9.3) & (rng.random(n) < 0.75)
    arm_strength = np.where(has_arms, rng.uniform(0.15, 0.5, n), 0.0)
    n_arms = np.where(rng.random(n) < 0.7, 2, rng.integers(3, 5, n))
    pitch = np.deg2rad(rng.uniform(10.0, 30.0, n))
    # Clumps: the clumpy fraction of star-forming galaxies rises with
    # redshift and falls with mass (Guo et al. 2015, ApJ 800, 39).
    clumpy_prob = np.clip(0.2 + 0.5 * z - 0.1 * (log_m - 10.0), 0.05, 0.8)
    clumpiness = np.where(
        ~quenched & (rng.random(n) < clumpy_prob), rng.uniform(0.03, 0.25, n), 0.0
    )
    # Bars: about a third of disks at low redshift, fewer at z ~ 1 (Sheth et
    # al. 2008, ApJ 675, 1141).
    bar = (bt < 0.5) & (log_m > 9.5) & (rng.random(n) < np.clip(0.35 - 0.2 * z, 0.0, 1.0))
    bar_fraction = np.where(bar, rng.uniform(0.05, 0.15, n), 0.0)
    bar_angle = rng.uniform(0.0, np.pi, n)

    return {
        "quenched": quenched,
        "log_sfr": log_sfr,
        "bulge_fraction": bt,
        "re_bulge_kpc": re_bulge_kpc,
        "re_disk_kpc": re_disk_kpc,
        "sersic_bulge": n_bulge,
        "inclination": np.rad2deg(np.arccos(cos_i)),
        "q_disk": q_disk,
        "q_bulge": q_bulge,
        "position_angle": np.rad2deg(position_angle),
        "arm_strength": arm_strength,
        "n_arms": np.where(has_arms, n_arms, 0),
        "pitch_angle": np.where(has_arms, np.rad2deg(pitch), 0.0),
        "clumpiness": clumpiness,
        "bar": bar,
        "bar_fraction": bar_fraction,
        "bar_angle": np.rad2deg(bar_angle),
        "template_disk": _template_index(log_ssfr),
    }


def _light_fractions(props, tail_fraction):
    """Rest-frame r-band light fractions of each component, shape (n, 6)."""
    bt = props["bulge_fraction"]
    disk_total = 1.0 - bt
    bar = props["bar_fraction"] * disk_total
    tail = tail_fraction * disk_total
    clumps = props["clumpiness"] * disk_total
    arms = props["arm_strength"] * (disk_total - bar - clumps - tail)
    disk = disk_total - bar - tail - clumps - arms
    return np.stack([bt, disk, arms, clumps, bar, tail], axis=1)


def _component_templates(template_disk):
    """Template index of each component, shape (n, 6)."""
    t = template_disk
    return np.stack(
        [
            np.zeros_like(t),
            t,
            np.minimum(t + 0.7, 3.0),
            np.full_like(t, 3.0),
            np.maximum(t - 1.0, 0.0),
            t,
        ],
        axis=1,
    )


def component_fluxes(log_m, z, light, templates):
    """Observed g, r, z fluxes (nanomaggies) of each component.

    Returns ``(fluxes, rest_gr)`` with ``fluxes`` of shape (n, ncomp, 3).
    The total rest-frame r luminosity follows from the stellar mass and the
    Bell et al. (2003) colour-based mass-to-light ratio.
    """
    _, _, rest_gr_t = phot.template_grid()
    weights = phot.template_weights(templates)  # (n, c, 4)
    total_w = np.einsum("nc,nct->nt", light, weights)
    rest_gr = -2.5 * np.log10(total_w @ 10.0 ** (-0.4 * rest_gr_t))
    log_lum_r = log_m - phot.mass_to_light_r(rest_gr)
    abs_r = phot.SUN_ABS_MAG_R - 2.5 * log_lum_r
    amplitude = 10.0 ** (-0.4 * (abs_r + phot.distance_modulus(z) - 22.5))
    factors = phot.observed_flux_factors(z)  # (n, 4, 3)
    fluxes = np.einsum("nc,nct,ntb->ncb", light, weights, factors) * amplitude[:, None, None]
    return fluxes, rest_gr


def _mag(flux):
    return 22.5 - 2.5 * np.log10(np.maximum(flux, 1e-30))


def draw_centrals(n, rng, config):
    """Draw ``n`` central galaxies brighter than the magnitude limit."""
    batches = []
    count = 0
    while count < n:
        m = max(4 * (n - count), 256)
        z, log_m = _draw_mass_redshift(m, rng, config.z_min, config.z_max, config.log_mstar_min)
        props = _physical(z, log_m, rng)
        merger = rng.random(m) < config.merger_fraction
        tail_fraction = np.where(merger, rng.uniform(0.05, 0.15, m), 0.0)
        light = _light_fractions(props, tail_fraction)
        fluxes, rest_gr = component_fluxes(
            log_m, z, light, _component_templates(props["template_disk"])
        )
        total = fluxes.sum(axis=1)
        keep = _mag(total[:, 1]) < config.mag_limit
        batch = {"redshift": z, "log_mstar": log_m, **props, "merger_drawn": merger}
        batch |= {
            "light": light,
            "fluxes": fluxes,
            "rest_gr": rest_gr,
            "tail_fraction": tail_fraction,
        }
        batches.append({k: v[keep] for k, v in batch.items()})
        count += int(keep.sum())
    out = {k: np.concatenate([b[k] for b in batches])[:n] for k in batches[0]}
    _add_companions(out, rng)
    return out


def _add_companions(out, rng):
    """Interacting companions: a lower-mass galaxy at the same redshift."""
    n = out["redshift"].size
    has = out.pop("merger_drawn")
    # Stellar mass ratio between 1:10 and 1:1, uniform in log.
    log_ratio = rng.uniform(-1.0, 0.0, n)
    log_m2 = out["log_mstar"] + log_ratio
    z = out["redshift"]
    props = _physical(z, log_m2, rng)
    light = _light_fractions(props, np.where(has, 0.08, 0.0))
    fluxes, _ = component_fluxes(log_m2, z, light, _component_templates(props["template_disk"]))
    flux2 = fluxes.sum(axis=1)
    re2 = np.where(props["bulge_fraction"] > 0.5, props["re_bulge_kpc"], props["re_disk_kpc"])
    out["companion"] = has
    out["companion_log_mstar"] = np.where(has, log_m2, np.nan)
    out["companion_flux"] = np.where(has[:, None], flux2, 0.0)
    out["companion_sersic"] = np.where(props["bulge_fraction"] > 0.5, 4.0, 1.0)
    out["companion_re_kpc"] = np.where(has, re2, np.nan)
    out["companion_q"] = np.where(props["bulge_fraction"] > 0.5, props["q_bulge"], props["q_disk"])
    out["companion_pa"] = props["position_angle"]
    # Projected separations of close pairs, 5-25 kpc (e.g. Lotz et al. 2011,
    # ApJ 742, 103 count pairs within 5-20 h^-1 kpc).
    out["companion_sep_kpc"] = np.where(has, rng.uniform(5.0, 25.0, n), np.nan)
    out["companion_angle"] = rng.uniform(0.0, 360.0, n)
    out["asymmetry"] = np.where(has, rng.uniform(0.2, 0.5, n), 0.0)
    out["tail_angle"] = rng.uniform(0.0, 360.0, n)


@functools.cache
def field_galaxy_density(mag_limit, log_mstar_min=8.0):
    """Field galaxies per square arcsec brighter than ``mag_limit`` in r.

    Integrates the stellar mass function over 0 < z < 2.5 and counts, by a
    fixed-seed Monte Carlo draw of colours and mass-to-light ratios, the
    fraction brighter than the limit.
    """
    rng = np.random.default_rng(20250101)
    z_min, z_max = 0.01, 2.5
    _, _, _, per_sr = _mass_redshift_grid(z_min, z_max, log_mstar_min)
    m = 40000
    z, log_m = _draw_mass_redshift(m, rng, z_min, z_max, log_mstar_min)
    props = _physical(z, log_m, rng)
    light = _light_fractions(props, np.zeros(m))
    fluxes, _ = component_fluxes(log_m, z, light, _component_templates(props["template_disk"]))
    frac = np.mean(_mag(fluxes.sum(axis=1)[:, 1]) < mag_limit)
    arcsec2_per_sr = (180.0 / np.pi * 3600.0) ** 2
    return per_sr * frac / arcsec2_per_sr


def draw_field_galaxies(n, rng, config):
    """Single-Sersic field galaxies over 0 < z < 2.5, r < neighbour_mag_limit."""
    batches = []
    count = 0
    while count < n:
        m = max(4 * (n - count), 256)
        z, log_m = _draw_mass_redshift(m, rng, 0.01, 2.5, config.log_mstar_min)
        props = _physical(z, log_m, rng)
        light = _light_fractions(props, np.zeros(m))
        fluxes, _ = component_fluxes(log_m, z, light, _component_templates(props["template_disk"]))
        flux = fluxes.sum(axis=1)
        keep = _mag(flux[:, 1]) < config.neighbour_mag_limit
        spheroid = props["bulge_fraction"] > 0.5
        re_kpc = np.where(spheroid, props["re_bulge_kpc"], props["re_disk_kpc"])
        batch = {
            "flux": flux,
            "re_arcsec": re_kpc / phot.kpc_per_arcsec(z),
            "sersic": np.where(spheroid, 4.0, 1.0),
            "q": np.where(spheroid, props["q_bulge"], props["q_disk"]),
            "pa": props["position_angle"],
        }
        batches.append({k: v[keep] for k, v in batch.items()})
        count += int(keep.sum())
    return {k: np.concatenate([b[k] for b in batches])[:n] for k in batches[0]}


def draw_stars(n, rng, config):
    """Field stars: black-body colours, counts rising slowly to faint magnitudes.

    Faint high-latitude star counts rise by roughly 0.1 dex per magnitude
    (Bahcall & Soneira 1980, ApJS 44, 73), so magnitudes are drawn from
    dN/dm proportional to 10**(0.1 m) between 16 and ``star_mag_limit``.
    """
    lo, hi = 16.0, config.star_mag_limit
    u = rng.random(n)
    a = 0.1 * np.log(10.0)
    mag_r = np.log(np.exp(a * lo) + u * (np.exp(a * hi) - np.exp(a * lo))) / a
    temps, colours = phot.blackbody_colours()
    temp = rng.uniform(3500.0, 7500.0, n)
    gr = np.interp(temp, temps, colours[:, 0])
    rz = np.interp(temp, temps, colours[:, 1])
    mags = np.stack([mag_r + gr, mag_r, mag_r - rz], axis=1)
    return {"flux": 10.0 ** (-0.4 * (mags - 22.5))}

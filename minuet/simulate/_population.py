"""Drawing galaxies, companions, field neighbours and stars.

Stellar mass and redshift come from the stellar mass function times the
comoving volume element; star formation, sizes and colours follow from the
relations in :mod:`minuet.simulate.relations`; light profiles and their
components follow the prescriptions documented on each helper below.
"""

import functools

import numpy as np

from .._vocabulary import AB_ZEROPOINT
from . import _photometry as phot
from . import _seds as seds
from .relations import (
    balmer_attenuation_garn_best,
    mass_size_relation,
    mass_size_relation_shen,
    quenched_fraction,
    quenched_fraction_peng,
    star_forming_main_sequence,
    star_forming_main_sequence_whitaker,
    stellar_mass_function,
)
from .variants import variant_choices

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


_MAIN_SEQUENCE = {
    "speagle14": (star_forming_main_sequence, quenched_fraction),
    "whitaker12": (star_forming_main_sequence_whitaker, quenched_fraction_peng),
}
_SIZES = {"vdw14": mass_size_relation, "shen03": mass_size_relation_shen}


def _physical(z, log_m, rng, choices):
    """Star formation, structure and component light fractions."""
    n = z.size
    main_sequence, quenched_frac = _MAIN_SEQUENCE[choices["population"]]
    size_relation = _SIZES[choices["sizes"]]
    quenched = rng.random(n) < quenched_frac(log_m, z)
    ms = main_sequence(log_m, z)
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
    mu_b, sig_b = size_relation(m_bulge, z, quenched=True)
    mu_d, sig_d = size_relation(m_disk, z, quenched=False)
    # Bulges are not followed below 0.1 kpc: such cores are unresolved anyway.
    re_bulge_kpc = np.maximum(10.0 ** (mu_b + sig_b * rng.standard_normal(n)), 0.1)
    re_disk_kpc = 10.0 ** (mu_d + sig_d * rng.standard_normal(n))

    # Sersic index: spheroids' n rises with mass, log n ~ 0.6 at 10^11 Msun
    # with 0.1 dex scatter (Graham & Guzman 2003, AJ 125, 2936, their n-M_B
    # relation; Caon, Capaccioli & D'Onofrio 1993); bulges of disks span
    # n = 1-4 (Fisher & Drory 2008, AJ 136, 773), pseudo-bulges near 1-2.
    log_n_sph = 0.6 + 0.15 * (log_m - 11.0) + 0.1 * rng.standard_normal(n)
    n_bulge = np.where(quenched, 10.0**log_n_sph, rng.uniform(1.0, 4.0, n))
    n_bulge = (
        np.round(np.clip(n_bulge, 0.75, 6.0) * 4.0) / 4.0
    )  # quantised: GalSim caches per index

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
        "log_ssfr": log_ssfr,
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
    """Observed g, r, z fluxes (nanomaggies) of each component, CWW templates.

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
    amplitude = 10.0 ** (-0.4 * (abs_r + phot.distance_modulus(z) - AB_ZEROPOINT))
    factors = phot.observed_flux_factors(z)  # (n, 4, 3)
    fluxes = np.einsum("nc,nct,ntb->ncb", light, weights, factors) * amplitude[:, None, None]
    return fluxes, rest_gr


# Dust. The stars' A_V follows the Garn & Best (2010) H-alpha attenuation of
# star-forming galaxies at their mass, converted with the Calzetti et al.
# (2000) nebular-to-stellar factor 0.44 and k(H-alpha) = 3.33 (see
# balmer_attenuation_garn_best), with Garn & Best's 0.28 mag scatter.
# Quiescent galaxies are nearly dust-free: A_V half-normal with 0.15 mag
# dispersion (SED fits find them much less attenuated than star-forming
# galaxies of the same mass; Salim et al. 2018, ApJ 859, 11).
_HALPHA_TO_AV = 4.05 * 0.44 / 3.33
_GARN_BEST_SCATTER = 0.28
_QUIESCENT_AV = 0.15


def _dust_av(log_m, quenched, rng):
    n = log_m.size
    a_halpha = balmer_attenuation_garn_best(log_m) + _GARN_BEST_SCATTER * rng.standard_normal(n)
    sf = np.maximum(_HALPHA_TO_AV * a_halpha, 0.0)
    return np.where(quenched, _QUIESCENT_AV * np.abs(rng.standard_normal(n)), sf)


def _slab(a_screen, inclination_deg):
    """Effective A_V of stars and dust mixed in a uniform slab.

    For a slab of face-on optical depth ``tau`` seen at inclination i, the
    escaping fraction is (1 - exp(-t)) / t with t = tau / cos i (Disney,
    Davies & Phillipps 1989, MNRAS 239, 939). ``tau`` is set so that the
    face-on slab attenuates like the screen prior; inclined disks then lose
    more light, as observed (e.g. Masters et al. 2010, MNRAS 404, 792).
    """
    a = np.maximum(np.asarray(a_screen, dtype=float), 1e-6)
    # Invert A = -2.5 log10((1 - e^-tau) / tau) for tau face-on (Newton).
    tau = np.maximum(a / 1.086 * 2.0, 1e-6)
    for _ in range(30):
        f = -2.5 * np.log10(-np.expm1(-tau) / tau) - a
        # d/dtau of -2.5 log10((1-e^-t)/t)
        df = -2.5 / np.log(10.0) * (np.exp(-tau) / -np.expm1(-tau) - 1.0 / tau)
        tau = np.maximum(tau - f / df, 1e-6)
    cos_i = np.maximum(np.cos(np.deg2rad(inclination_deg)), 0.05)
    t = tau / cos_i
    return np.where(a_screen > 0, -2.5 * np.log10(-np.expm1(-t) / t), 0.0)


# kcorrect template roles (Blanton & Roweis 2007 v4 set, see _seds): 1 and 4
# hold the stars formed in the last 300 Myr, 2 an intermediate-age
# population with no current star formation, 3 (or the LRG template) the old
# stars. Template 0 carries a heavily reddened population: dust here comes
# from the dust law instead, so it is not used.
_YOUNG = (1, 4)
_YOUNGEST_SHARE = 1.0 / 30.0
_SFR_TIMESCALE_YR = 3.0e8
_INTERMEDIATE = 2
_OLD = 3


def _sed_mixture(log_m, log_ssfr, quenched, rng, choices):
    """Solar masses formed in each of the six templates, shape (n, 6).

    The young templates' share of the stellar mass is set by the drawn
    specific SFR (the young mixture's own sSFR is known), capped at 95%;
    an intermediate-age share is drawn (wider for star-forming galaxies);
    the rest is old. The specific SFR of the mixture is then exactly the
    drawn one unless the cap applies.
    """
    tpl = seds.templates()
    n = log_m.size
    # Template 4 (about half of its stars formed in the last 300 Myr, the rest
    # over gigayears) carries most of the recent star formation. Template 1,
    # whose stars all formed in the last 300 Myr and which is some 200 times
    # brighter per unit mass than the old stars (so dominated by the
    # youngest), takes the share of that recent mass that a constant SFR puts
    # into its last 10 Myr, 1/30. Giving it more makes the few galaxies above
    # the main sequence outshine the rest of a flux-limited sample and moves
    # the colours off the published loci (see the colour tests). The young
    # share is capped at 95% of the stellar mass, which caps the sSFR near
    # 2e-9 / yr; the catalogue's log_sfr is always that of the mixture.
    ssfr = 10.0**log_ssfr
    recent = ssfr * _SFR_TIMESCALE_YR  # share of M* formed in the last 300 Myr
    s1 = tpl["sfr"][1] / tpl["mremain"][1]
    s4 = tpl["sfr"][4] / tpl["mremain"][4]
    f1 = recent * _YOUNGEST_SHARE / (s1 * _SFR_TIMESCALE_YR)
    f4 = recent * (1.0 - _YOUNGEST_SHARE) / (s4 * _SFR_TIMESCALE_YR)
    scale = np.minimum(1.0, 0.95 / (f1 + f4))
    f1, f4 = f1 * scale, f4 * scale
    f_young = f1 + f4
    f_int = np.where(quenched, rng.beta(1.0, 30.0, n), rng.uniform(0.0, 0.6, n)) * (1 - f_young)
    f_old = 1.0 - f_young - f_int
    old = seds.LRG if choices["sed"] == "kcorrect_lrg" else _OLD
    mass = 10.0**log_m
    coeffs = np.zeros((n, 6))
    coeffs[:, 1] = mass * f1 / tpl["mremain"][1]
    coeffs[:, 4] = mass * f4 / tpl["mremain"][4]
    coeffs[:, _INTERMEDIATE] = mass * f_int / tpl["mremain"][_INTERMEDIATE]
    coeffs[:, old] = mass * f_old / tpl["mremain"][old]
    return coeffs


def _split_components(total, red, blue, light):
    """Fluxes of the six components from the galaxy's red and blue light.

    ``light`` holds each component's share of the observed r-band flux.
    Bulge and bar take the colour of the old and intermediate stars
    (``red``), arms and clumps that of the young ones (``blue``), disk and
    tail the remainder. Where that would leave the disk with negative flux in
    some band, the pure colours are blended towards the galaxy's own until it
    does not (the blend factor is linear, so solved exactly).
    """

    def shape(x):
        return x / np.maximum(x[:, 1:2], 1e-300)

    tot_r = total[:, 1:2]
    f_red = (light[:, 0] + light[:, 4])[:, None]
    f_blue = (light[:, 2] + light[:, 3])[:, None]
    f_rest = (light[:, 1] + light[:, 5])[:, None]
    t_shape = shape(total)
    red_s = np.where(red[:, 1:2] > 0, shape(red), t_shape)
    blue_s = np.where(blue[:, 1:2] > 0, shape(blue), t_shape)
    # residual(alpha) = total - tot_r * [f_red (a red_s + (1-a) t) + f_blue (a blue_s + (1-a) t)]
    r0 = f_rest * total
    r1 = total - tot_r * (f_red * red_s + f_blue * blue_s)
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = np.where(r1 < 0, r0 / (r0 - r1), 1.0)
    alpha = np.clip(np.min(lim, axis=1), 0.0, 1.0)[:, None]
    red_c = alpha * red_s + (1 - alpha) * t_shape
    blue_c = alpha * blue_s + (1 - alpha) * t_shape
    comp = np.empty((total.shape[0], 6, 3))
    for c, s in ((0, red_c), (4, red_c), (2, blue_c), (3, blue_c)):
        comp[:, c] = light[:, c : c + 1] * tot_r * s
    rest = np.maximum(total - comp[:, [0, 2, 3, 4]].sum(axis=1), 0.0)
    share = light[:, [1, 5]] / np.maximum(light[:, [1, 5]].sum(axis=1, keepdims=True), 1e-300)
    comp[:, 1] = share[:, :1] * rest
    comp[:, 5] = share[:, 1:] * rest
    return comp


def photometry(z, log_m, props, light, rng, choices):
    """Fluxes of the components and the SED and dust parameters.

    Returns ``(fluxes, extra)``: ``fluxes`` of shape (n, 6, 3) in
    nanomaggies before Galactic extinction, ``extra`` a dict of truth
    columns (``rest_gr``, ``dust_av``, ``template_coeffs``, ``cww_index``,
    ``young_mass_fraction``) and the possibly capped ``log_sfr``.
    """
    n = z.size
    if choices["sed"] == "cww":
        fluxes, rest_gr = component_fluxes(
            log_m, z, light, _component_templates(props["template_disk"])
        )
        return fluxes, {
            "rest_gr": rest_gr,
            "dust_av": np.zeros(n),
            "template_coeffs": np.zeros((n, 6)),
            "cww_index": props["template_disk"],
            "young_mass_fraction": np.full(n, np.nan),
            "log_sfr": props["log_sfr"],
        }
    tpl = seds.templates()
    quenched = props["quenched"]
    coeffs = _sed_mixture(log_m, props["log_ssfr"], quenched, rng, choices)
    a_v = _dust_av(log_m, quenched, rng)
    if choices["dust_geometry"] == "slab":
        disky = props["bulge_fraction"] < 0.6
        a_v = np.where(disky, _slab(a_v, props["inclination"]), a_v)
    law = choices["dust_law"]
    factors = (
        seds.template_fluxes(law, z, a_v) * 10.0 ** (-0.4 * phot.distance_modulus(z))[:, None, None]
    )
    per_template = coeffs[:, :, None] * factors  # (n, 6, 3)
    total = per_template.sum(axis=1)
    blue = per_template[:, list(_YOUNG)].sum(axis=1)
    red = total - blue
    fluxes = _split_components(total, red, blue, light)
    rest = np.einsum("nt,ntb->nb", coeffs, seds.template_fluxes(law, np.zeros(n), a_v))
    sfr = coeffs @ tpl["sfr"]
    return fluxes, {
        "rest_gr": -2.5 * np.log10(rest[:, 0] / rest[:, 1]),
        "dust_av": a_v,
        "template_coeffs": coeffs,
        "cww_index": np.full(n, np.nan),
        "young_mass_fraction": (coeffs[:, list(_YOUNG)] @ tpl["mremain"][list(_YOUNG)])
        / 10.0**log_m,
        "log_sfr": np.log10(np.maximum(sfr, 1e-30)),
    }


def _mag(flux):
    return AB_ZEROPOINT - 2.5 * np.log10(np.maximum(flux, 1e-30))


# Legacy Surveys DR9 Galactic extinction coefficients A_b / E(B-V) for DECam
# g, r, z (Schlafly & Finkbeiner 2011, ApJ 737, 103, R_V = 3.1).
MW_COEFFS = np.array([3.214, 2.165, 1.211])


def draw_ebv(n, rng, config):
    """Galactic E(B-V) of each cutout: log-normal, median and spread from the config.

    The Legacy Surveys avoid the Galactic plane (|b| > ~18 deg); over such
    sky the Schlegel, Finkbeiner & Davis (1998) reddening has a median of a
    few hundredths of a magnitude and a long tail to ~0.3.
    """
    ebv = config.ebv_median * np.exp(config.ebv_scatter * rng.standard_normal(n))
    return np.minimum(ebv, 0.5)


def draw_centrals(n, rng, config, choices=None):
    """Draw ``n`` central galaxies brighter than the magnitude limit.

    ``choices`` are the modelling choices of one variant (the reference
    variant by default). A share ``config.nearby_fraction`` of the galaxies
    kept (not of those drawn) comes from the nearby volume ``z <
    config.nearby_z_max``, so that bright, large galaxies are well
    represented; the rest from the whole ``z_min < z < z_max``.
    """
    choices = variant_choices("reference") if choices is None else choices
    near = rng.random(n) < config.nearby_fraction
    parts = [
        _draw_selected(int(np.sum(near == flag)), rng, config, choices, z_max)
        for flag, z_max in ((False, config.z_max), (True, config.nearby_z_max))
    ]
    out = {}
    for key in parts[0]:
        value = np.empty((n, *parts[0][key].shape[1:]), dtype=parts[0][key].dtype)
        value[~near] = parts[0][key]
        value[near] = parts[1][key]
        out[key] = value
    _add_companions(out, rng, choices)
    return out


def _draw_selected(n, rng, config, choices, z_max):
    batches = []
    count = 0
    while True:
        m = max(4 * (n - count), 256)
        z, log_m = _draw_mass_redshift(m, rng, config.z_min, z_max, config.log_mstar_min)
        props = _physical(z, log_m, rng, choices)
        merger = rng.random(m) < config.merger_fraction
        tail_fraction = np.where(merger, rng.uniform(0.05, 0.15, m), 0.0)
        light = _light_fractions(props, tail_fraction)
        fluxes, extra = photometry(z, log_m, props, light, rng, choices)
        props["log_sfr"] = extra.pop("log_sfr")
        ebv = draw_ebv(m, rng, config)
        mw = 10.0 ** (-0.4 * MW_COEFFS[None, :] * ebv[:, None])
        fluxes = fluxes * mw[:, None, :]
        total = fluxes.sum(axis=1)
        keep = _mag(total[:, 1]) < config.mag_limit
        batch = {"redshift": z, "log_mstar": log_m, **props, "merger_drawn": merger}
        batch |= {
            "light": light,
            "fluxes": fluxes,
            "tail_fraction": tail_fraction,
            "ebv_galactic": ebv,
            "mw_transmission": mw,
            **extra,
        }
        batches.append({k: v[keep] for k, v in batch.items()})
        count += int(keep.sum())
        if count >= n:
            break
    return {k: np.concatenate([b[k] for b in batches])[:n] for k in batches[0]}


def _add_companions(out, rng, choices):
    """Interacting companions: a lower-mass galaxy at the same redshift."""
    n = out["redshift"].size
    has = out.pop("merger_drawn")
    # Stellar mass ratio between 1:10 and 1:1, uniform in log.
    log_ratio = rng.uniform(-1.0, 0.0, n)
    log_m2 = out["log_mstar"] + log_ratio
    z = out["redshift"]
    props = _physical(z, log_m2, rng, choices)
    light = _light_fractions(props, np.where(has, 0.08, 0.0))
    fluxes, _ = photometry(z, log_m2, props, light, rng, choices)
    flux2 = fluxes.sum(axis=1) * out["mw_transmission"]
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
    choices = _field_choices()
    props = _physical(z, log_m, rng, choices)
    light = _light_fractions(props, np.zeros(m))
    fluxes, _ = photometry(z, log_m, props, light, rng, choices)
    frac = np.mean(_mag(fluxes.sum(axis=1)[:, 1]) < mag_limit)
    arcsec2_per_sr = (180.0 / np.pi * 3600.0) ** 2
    return per_sr * frac / arcsec2_per_sr


def _field_choices():
    """Modelling choices of field galaxies, the same in every variant.

    The CWW templates give counts of about 11 galaxies per square arcminute
    to r = 24, in line with deep counts (Tyson & Jarvis 1979, ApJL 230,
    L153, find 4.75 per square arcminute to J = 24, about 2.5 times fewer
    than to r = 24 at their slope of 0.41 dex per magnitude and the typical
    J - r ~ 1 of faint galaxies); the kcorrect mixtures make the z > 1
    star-forming galaxies that dominate those counts too luminous, at about
    50 per square arcminute. Field neighbours are therefore not part of
    what the variants change.
    """
    return {**variant_choices("reference"), "sed": "cww"}


def draw_field_galaxies(n, rng, config, mw_transmission=1.0):
    """Single-Sersic field galaxies over 0 < z < 2.5, r < neighbour_mag_limit."""
    choices = _field_choices()
    batches = []
    count = 0
    while count < n:
        m = max(4 * (n - count), 256)
        z, log_m = _draw_mass_redshift(m, rng, 0.01, 2.5, config.log_mstar_min)
        props = _physical(z, log_m, rng, choices)
        light = _light_fractions(props, np.zeros(m))
        fluxes, _ = photometry(z, log_m, props, light, rng, choices)
        flux = fluxes.sum(axis=1) * mw_transmission
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
    return {"flux": 10.0 ** (-0.4 * (mags - AB_ZEROPOINT))}

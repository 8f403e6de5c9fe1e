"""Each variant changes what it claims, and nothing else; dust acts as its law says."""

import numpy as np
import pytest
from astropy import units as u

from minuet.simulate import SimulationConfig, simulate, variant_choices
from minuet.simulate import _photometry as phot
from minuet.simulate import _population as pop
from minuet.simulate import _render as render
from minuet.simulate import _seds as seds
from minuet.simulate.relations import (
    mass_size_relation,
    mass_size_relation_shen,
    quenched_fraction,
    quenched_fraction_peng,
    star_forming_main_sequence,
    star_forming_main_sequence_whitaker,
)

# DECam pivot wavelengths (A) of the speclite decam2014 g, r, z curves
PIVOT = np.array([4815.0, 6432.0, 9179.0])


def _draw(name, n=4000, seed=0, z=None, log_m=None):
    """Physical properties and photometry of ``n`` galaxies under a variant, fixed seed."""
    rng = np.random.default_rng(seed)
    if z is None:
        z, log_m = pop._draw_mass_redshift(n, rng, 0.02, 1.0, 8.0)
    choices = variant_choices(name)
    props = pop._physical(z, log_m, rng, choices)
    light = pop._light_fractions(props, np.zeros(z.size))
    fluxes, extra = pop.photometry(z, log_m, props, light, rng, choices)
    return z, log_m, props, fluxes, extra


@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_kcorrect_loader_matches_the_package():
    kcorrect = pytest.importorskip("kcorrect.template")
    import os

    tpl = seds.templates()
    for k, name in enumerate(seds.TEMPLATE_FILES):
        ref = kcorrect.Template(filename=os.path.join(seds.template_dir(), name))
        flux = np.atleast_2d(ref.restframe_flux) / np.atleast_1d(ref.intsfh)[:, None]
        keep = np.isin(ref.restframe_wave, tpl["wave"])
        rows = range(5) if k == 0 else [seds.LRG]
        for j, row in enumerate(rows):
            if k == 0:
                assert np.allclose(tpl["flux"][row], flux[j][keep], rtol=1e-6)
            assert tpl["mremain"][row] == pytest.approx(
                float(np.atleast_1d(ref.mremain)[j] / np.atleast_1d(ref.intsfh)[j]), rel=1e-6
            )
            assert tpl["sfr"][row] == pytest.approx(
                float(np.atleast_1d(ref.m300)[j] / np.atleast_1d(ref.intsfh)[j] / 3e8), rel=1e-6
            )


def test_template_magnitudes_are_sensible():
    # an old population of 1e10 Msun at z = 0.1 is about r = 19 (M_r ~ -19.3 for
    # M/L_r ~ 2.5 at g - r ~ 0.78, Bell et al. 2003; distance modulus 38.3), and red
    tpl = seds.templates()
    coeffs = np.zeros((1, 6))
    coeffs[0, 3] = 1e10 / tpl["mremain"][3]
    g, r, _ = seds.magnitudes(coeffs, [0.1], [0.0], "calzetti00")[0]
    assert 18.4 < r < 19.6
    assert 0.8 < g - r < 1.3


@pytest.mark.parametrize("law", seds.DUST_LAWS)
@pytest.mark.parametrize("redshift", [0.1, 0.5, 0.9])
def test_dust_reddens_and_dims_as_the_law_says(law, redshift):
    tpl = seds.templates()
    coeffs = np.zeros((1, 6))
    coeffs[0, 4] = 1e10 / tpl["mremain"][4]  # a star-forming population
    clear = seds.magnitudes(coeffs, [redshift], [0.0], law)[0]
    dusty = seds.magnitudes(coeffs, [redshift], [1.0], law)[0]
    dimming = dusty - clear
    assert np.all(dimming > 0)
    assert dimming[0] > dimming[1] > dimming[2]  # reddened
    expected = seds.attenuation_curve(law, PIVOT / (1 + redshift))
    # broad bands over a sloped spectrum: within 12% of the law at the pivot
    assert np.allclose(dimming, expected, rtol=0.12), (dimming, expected)


def test_mw_dust_changes_the_curve_only():
    ref = _draw("reference")
    mw = _draw("mw_dust")
    for key in ("quenched", "bulge_fraction", "re_disk_kpc", "inclination"):
        assert np.array_equal(ref[2][key], mw[2][key]), key
    for key in ("dust_av", "template_coeffs", "log_sfr"):
        assert np.array_equal(ref[4][key], mw[4][key]), key
    # the statistic: reddening per magnitude of A_V is larger for the MW curve (R_V 3.1)
    tpl = seds.templates()
    coeffs = np.zeros((1, 6))
    coeffs[0, 4] = 1e10 / tpl["mremain"][4]

    def excess(law):
        m0 = seds.magnitudes(coeffs, [0.1], [0.0], law)[0]
        m1 = seds.magnitudes(coeffs, [0.1], [1.0], law)[0]
        return (m1[0] - m1[1]) - (m0[0] - m0[1])

    assert excess("ccm89") > 1.15 * excess("calzetti00")
    assert excess("noll09") > excess("calzetti00")


def test_slab_dust_makes_inclined_disks_dustier():
    ref = _draw("reference")
    slab = _draw("slab_dust")
    assert np.array_equal(ref[4]["template_coeffs"], slab[4]["template_coeffs"])
    props = ref[2]
    disky = (props["bulge_fraction"] < 0.6) & ~props["quenched"]
    edge = disky & (props["inclination"] > 75)
    face = disky & (props["inclination"] < 30)

    def ratio(extra):
        return np.median(extra["dust_av"][edge]) / np.median(extra["dust_av"][face])

    assert 0.8 < ratio(ref[4]) < 1.25
    assert ratio(slab[4]) > 1.5
    # spheroids keep the screen
    sph = props["bulge_fraction"] >= 0.6
    assert np.array_equal(ref[4]["dust_av"][sph], slab[4]["dust_av"][sph])


def test_cww_templates_change_the_spectra_only():
    ref = _draw("reference")
    cww = _draw("cww_templates")
    for key in ("quenched", "log_sfr", "bulge_fraction", "re_disk_kpc", "re_bulge_kpc"):
        assert np.array_equal(ref[2][key], cww[2][key]), key
    assert np.all(cww[4]["dust_av"] == 0)
    assert np.all(cww[4]["template_coeffs"] == 0)
    # the statistic: quenched spheroids take the CWW elliptical's rest-frame colour
    sph = cww[2]["quenched"] & (cww[2]["bulge_fraction"] > 0.85)
    e_colour = phot.template_grid()[2][0]
    assert np.median(cww[4]["rest_gr"][sph]) == pytest.approx(e_colour, abs=0.06)


def test_kolmogorov_psf_changes_the_psf_only():
    ref = simulate(6, seed=4, config=SimulationConfig.from_variant("reference"))
    kol = simulate(6, seed=4, config=SimulationConfig.from_variant("kolmogorov_psf"))
    differ = {"variant", "psf_family", "psf_beta"}
    for name in ref[3].colnames:
        if name not in differ:
            a, b = np.asarray(ref[3][name]), np.asarray(kol[3][name])
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert np.all(kol[3]["psf_family"] == "kolmogorov")
    assert not np.array_equal(ref[0], kol[0])
    # the statistic: at the same FWHM the Kolmogorov profile is close to a Moffat
    # of beta 4.8 (Trujillo et al. 2001), so it keeps more light within 2 FWHM than
    # a Moffat of beta 3, the middle of the drawn range
    import galsim

    def encircled(profile, radius):
        image = profile.drawImage(nx=201, ny=201, scale=0.05, method="no_pixel").array
        yy, xx = np.mgrid[-100:101, -100:101] * 0.05
        return image[np.hypot(xx, yy) < radius].sum() / image.sum()

    fwhm = 1.3
    kolmo = render.psf_profile(galsim, "kolmogorov", fwhm, np.nan, 0.0)
    moffat = render.psf_profile(galsim, "moffat", fwhm, 3.0, 0.0)
    assert encircled(kolmo, 2 * fwhm) > encircled(moffat, 2 * fwhm) + 0.004


def test_whitaker_population_changes_star_formation_only():
    rng = np.random.default_rng(1)
    n = 20000
    z = np.full(n, 0.3)
    log_m = rng.uniform(9.0, 11.0, n)
    ref = _draw("reference", z=z, log_m=log_m)
    alt = _draw("whitaker_population", z=z, log_m=log_m)
    for name, relation, (_, _, props, _, _) in (
        ("speagle", star_forming_main_sequence, ref),
        ("whitaker", star_forming_main_sequence_whitaker, alt),
    ):
        sf = ~props["quenched"]
        slope = np.polyfit(log_m[sf], props["log_ssfr"][sf] + log_m[sf], 1)[0]
        expected = np.polyfit(log_m, relation(log_m, z), 1)[0]
        assert slope == pytest.approx(expected, abs=0.02), name
    # quenched fractions follow their relations
    for relation, props in ((quenched_fraction, ref[2]), (quenched_fraction_peng, alt[2])):
        assert props["quenched"].mean() == pytest.approx(relation(log_m, z).mean(), abs=0.015)
    # sizes still follow the same relation, with the same scatter, about each disk's mass
    for props in (ref[2], alt[2]):
        sf = ~props["quenched"]
        m_disk = log_m[sf] + np.log10(1 - props["bulge_fraction"][sf])
        mu, sigma = mass_size_relation(m_disk, z[sf], quenched=False)
        resid = np.log10(props["re_disk_kpc"][sf]) - mu
        assert abs(np.mean(resid)) < 0.01
        assert np.std(resid) == pytest.approx(np.median(sigma), rel=0.05)


def test_combined_alternative_changes_its_four_axes():
    rng = np.random.default_rng(2)
    n = 20000
    z = np.full(n, 0.1)
    log_m = rng.uniform(9.0, 9.5, n)
    ref = _draw("reference", z=z, log_m=log_m)
    alt = _draw("combined_alternative", z=z, log_m=log_m)
    assert np.array_equal(ref[2]["quenched"], alt[2]["quenched"])
    assert np.array_equal(ref[2]["log_sfr"], alt[2]["log_sfr"])
    # sizes: the scatter of pure disks' sizes at fixed mass is Shen et al.'s
    disk = (ref[2]["bulge_fraction"] < 0.05) & ~ref[2]["quenched"]
    m_disk = log_m + np.log10(1 - ref[2]["bulge_fraction"])
    for props, relation in ((ref[2], mass_size_relation), (alt[2], mass_size_relation_shen)):
        mu, sigma = relation(m_disk[disk], z[disk], quenched=False)
        resid = np.log10(props["re_disk_kpc"][disk]) - mu
        assert np.std(resid) == pytest.approx(np.median(sigma), rel=0.1)
    # SED: old light from the LRG template instead of NMF template 3
    assert np.all(alt[4]["template_coeffs"][:, 3] == 0)
    assert np.all(alt[4]["template_coeffs"][:, seds.LRG] > 0)
    assert np.all(ref[4]["template_coeffs"][:, seds.LRG] == 0)
    assert variant_choices("combined_alternative")["psf"] == "vonkarman"
    # the von Karman core has the FWHM asked for
    import galsim

    psf = render.psf_profile(galsim, "vonkarman", 1.4, np.nan, 0.0)
    measured = psf.drawImage(nx=256, ny=256, scale=0.02, method="no_pixel").calculateFWHM()
    assert measured == pytest.approx(1.4, rel=0.03)


def test_slab_attenuation_reduces_to_the_screen_face_on():
    a = np.array([0.1, 0.5, 1.0, 2.0])
    assert np.allclose(pop._slab(a, np.zeros(4)), a, rtol=1e-4)
    assert np.all(pop._slab(a, np.full(4, 80.0)) > a)


def test_truth_flux_includes_galactic_extinction():
    _, _, _, truth = simulate(8, seed=6, config=SimulationConfig.from_variant("reference"))
    assert np.all(truth["ebv_galactic"] > 0 * u.mag)
    assert np.median(truth["ebv_galactic"].value) == pytest.approx(0.03, rel=0.6)


def test_local_patch_drawing_matches_the_whole_canvas():
    canvas = render.Canvas(SimulationConfig())
    for x0, y0, re in ((1.0, 2.0, 0.5), (3.3, -4.1, 0.2)):
        whole = canvas.sersic(1.0, re, 0.6, 0.3, x0, y0)
        local = [np.zeros_like(whole), np.zeros_like(whole)]
        canvas.add_sersic(local, [1.0, 2.0], 1.0, re, 0.6, 0.3, x0, y0)
        assert local[0].sum() == pytest.approx(1.0, abs=2e-3)
        assert np.allclose(local[1], 2 * local[0])
        assert np.abs(local[0] - whole).max() < 0.01 * whole.max()
    # a source at the canvas corner keeps only the light that falls on it
    corner = [np.zeros_like(whole)]
    half = 0.5 * canvas.nfine * canvas.scale
    canvas.add_sersic(corner, [1.0], 1.0, 0.4, 0.6, 0.3, half - 0.05, half - 0.05)
    assert 0.15 < corner[0].sum() < 0.5

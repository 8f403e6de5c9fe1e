"""Published empirical relations that set the simulated galaxy population.

Every function takes plain arrays (log10 stellar mass in solar masses,
redshift) and returns plain arrays, so that each relation can be checked on
its own against the paper it comes from. Stellar masses assume a Chabrier
(2003) initial mass function throughout.
"""

import functools

import numpy as np

__all__ = [
    "balmer_attenuation_garn_best",
    "mass_size_relation",
    "mass_size_relation_shen",
    "quenched_fraction",
    "quenched_fraction_peng",
    "star_forming_main_sequence",
    "star_forming_main_sequence_whitaker",
    "stellar_mass_function",
]

# Leja et al. (2020), ApJ 893, 111, "continuity model" double Schechter
# function: parameters at the anchor redshifts 0.2, 1.6 and 3.0, interpolated
# quadratically in redshift (their Appendix B). Phi in Mpc^-3 dex^-1.
_LEJA_Z = (0.2, 1.6, 3.0)
_LEJA_LOGPHI1 = (-2.44, -3.08, -4.14)
_LEJA_LOGPHI2 = (-2.89, -3.29, -3.51)
_LEJA_LOGMSTAR = (10.79, 10.88, 10.84)
_LEJA_ALPHA1 = -0.28
_LEJA_ALPHA2 = -1.48

# van der Wel et al. (2014), ApJ 788, 28, Table 1: R_eff / kpc =
# 10**logA * (M / 5e10 Msun)**alpha with intrinsic scatter sigma (dex), for
# early-type (quiescent) and late-type (star-forming) galaxies in redshift
# bins centred on 0.25, 0.75 and 1.25.
_VDW_Z = (0.25, 0.75, 1.25)
_VDW_EARLY = {"log_a": (0.60, 0.42, 0.22), "alpha": (0.75, 0.71, 0.76), "sigma": (0.10, 0.11, 0.12)}
_VDW_LATE = {"log_a": (0.86, 0.78, 0.70), "alpha": (0.25, 0.22, 0.22), "sigma": (0.16, 0.16, 0.17)}


@functools.cache
def _age_grid():
    """Planck 2018 age of the universe (Gyr) on a redshift grid."""
    from astropy.cosmology import Planck18

    z = np.linspace(0.0, 10.0, 2001)
    return z, Planck18.age(z).to_value("Gyr")


def _quadratic_in_z(values, z):
    """Quadratic through Leja et al. (2020)'s three anchor redshifts."""
    z1, z2, z3 = _LEJA_Z
    y1, y2, y3 = values
    a = ((y3 - y1) + (y2 - y1) / (z2 - z1) * (z1 - z3)) / (
        z3**2 - z1**2 + (z2**2 - z1**2) / (z2 - z1) * (z1 - z3)
    )
    b = ((y2 - y1) - a * (z2**2 - z1**2)) / (z2 - z1)
    c = y1 - a * z1**2 - b * z1
    return a * z**2 + b * z + c


def stellar_mass_function(log_mstar, redshift):
    r"""Number density of galaxies per unit log stellar mass.

    The double Schechter "continuity model" of Leja et al. (2020, ApJ 893,
    111), fitted to 3D-HST and COSMOS-2015 over :math:`0.2 < z < 3`:

    .. math::

        \Phi(\log M) = \ln 10 \sum_{i=1}^{2} \Phi_i^*
        \left(\frac{M}{M^*}\right)^{\alpha_i + 1} e^{-M/M^*},

    with :math:`\log\Phi_1^*`, :math:`\log\Phi_2^*` and :math:`\log M^*`
    quadratic in redshift through their values at z = 0.2, 1.6 and 3.0. Below
    z = 0.2 the parameters are held at their z = 0.2 values.

    Parameters
    ----------
    log_mstar : array_like
        log10 of the stellar mass in solar masses (Chabrier IMF).
    redshift : array_like
        Redshift; broadcast against ``log_mstar``.

    Returns
    -------
    phi : `~numpy.ndarray`
        Comoving number density in Mpc^-3 dex^-1.

    Examples
    --------
    >>> from minuet.simulate.relations import stellar_mass_function
    >>> phi = stellar_mass_function([9.0, 11.0], 0.5)
    >>> bool(phi[0] > phi[1])
    True
    """
    log_mstar = np.asarray(log_mstar, dtype=float)
    z = np.clip(np.asarray(redshift, dtype=float), _LEJA_Z[0], _LEJA_Z[-1])
    logphi1 = _quadratic_in_z(_LEJA_LOGPHI1, z)
    logphi2 = _quadratic_in_z(_LEJA_LOGPHI2, z)
    logmstar = _quadratic_in_z(_LEJA_LOGMSTAR, z)
    x = 10.0 ** (log_mstar - logmstar)
    return (
        np.log(10.0)
        * np.exp(-x)
        * (10.0**logphi1 * x ** (_LEJA_ALPHA1 + 1) + 10.0**logphi2 * x ** (_LEJA_ALPHA2 + 1))
    )


def star_forming_main_sequence(log_mstar, redshift):
    r"""Mean log star-formation rate of main-sequence galaxies.

    The consensus fit of Speagle et al. (2014, ApJS 214, 15, their eq. 28):

    .. math::

        \log \mathrm{SFR} = (0.84 - 0.026\,t)\log M_* - (6.51 - 0.11\,t),

    with :math:`t` the age of the universe in Gyr (Planck 2018 cosmology
    here). Speagle et al. measure a true scatter of about 0.2 dex about it.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like
        Redshift.

    Returns
    -------
    log_sfr : `~numpy.ndarray`
        log10 of the star-formation rate in solar masses per year.

    Examples
    --------
    >>> from minuet.simulate.relations import star_forming_main_sequence
    >>> low_z, high_z = star_forming_main_sequence(10.0, [0.1, 1.0])
    >>> bool(high_z > low_z)  # the main sequence rises with redshift
    True
    """
    z_grid, age_grid = _age_grid()
    t_gyr = np.interp(np.asarray(redshift, dtype=float), z_grid, age_grid)
    log_mstar = np.asarray(log_mstar, dtype=float)
    return (0.84 - 0.026 * t_gyr) * log_mstar - (6.51 - 0.11 * t_gyr)


def quenched_fraction(log_mstar, redshift):
    r"""Fraction of galaxies that are quenched, by stellar mass and redshift.

    The smooth fit of Hahn, Tinker & Wetzel (2017, ApJ 841, 6) to the central
    galaxies' quiescent fractions of SDSS and of COSMOS (Tinker et al. 2013):

    .. math::

        f_Q(M_*, z) = (-6.04 + 0.64 \log M_*)\,(1 + z)^{-1.75},

    clipped to [0, 1].

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like
        Redshift.

    Returns
    -------
    fraction : `~numpy.ndarray`
        Quenched fraction between 0 and 1.

    Examples
    --------
    >>> from minuet.simulate.relations import quenched_fraction
    >>> quenched_fraction([9.0, 10.5, 11.5], 0.0).round(2)
    array([0.  , 0.68, 1.  ])
    """
    log_mstar = np.asarray(log_mstar, dtype=float)
    z = np.asarray(redshift, dtype=float)
    return np.clip((-6.04 + 0.64 * log_mstar) * (1.0 + z) ** -1.75, 0.0, 1.0)


def mass_size_relation(log_mstar, redshift, *, quenched):
    r"""Median half-light semi-major axis and its scatter.

    The mass-size relations of van der Wel et al. (2014, ApJ 788, 28, Table
    1) for early-type (quiescent) and late-type (star-forming) galaxies,

    .. math::

        R_\mathrm{eff}/\mathrm{kpc} = A(z)\,\left(\frac{M_*}{5\times10^{10}
        M_\odot}\right)^{\alpha(z)},

    with :math:`\log A`, :math:`\alpha` and the intrinsic scatter
    interpolated linearly between their redshift bins (0.25, 0.75, 1.25) and
    held constant outside them. Sizes are measured at rest-frame 5000 A.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like
        Redshift.
    quenched : array_like of bool
        Whether each galaxy follows the early-type (`True`) or the late-type
        relation.

    Returns
    -------
    log_re_kpc : `~numpy.ndarray`
        log10 of the median half-light radius in kpc.
    sigma : `~numpy.ndarray`
        Intrinsic scatter in dex.

    Examples
    --------
    >>> from minuet.simulate.relations import mass_size_relation
    >>> (log_re, _), (log_re_hi, _) = [
    ...     mass_size_relation(10.5, z, quenched=True) for z in (0.25, 0.75)]
    >>> bool(log_re_hi < log_re)  # galaxies were smaller in the past
    True
    """
    log_mstar = np.asarray(log_mstar, dtype=float)
    z = np.asarray(redshift, dtype=float)
    quenched = np.asarray(quenched, dtype=bool)
    out = []
    for key in ("log_a", "alpha", "sigma"):
        early = np.interp(z, _VDW_Z, _VDW_EARLY[key])
        late = np.interp(z, _VDW_Z, _VDW_LATE[key])
        out.append(np.where(quenched, early, late))
    log_a, alpha, sigma = out
    log_re = log_a + alpha * (log_mstar - np.log10(5e10))
    return log_re, sigma


# Shen et al. (2003), MNRAS 343, 978, eqs. (17)-(19) and Table 1 (r-band
# Petrosian half-light radii of SDSS galaxies at z ~ 0.1, Kroupa IMF masses).
_SHEN_LATE = {"alpha": 0.14, "beta": 0.39, "gamma": 0.10, "m0": 3.98e10}
_SHEN_EARLY = {"a": 0.56, "b": 2.88e-6}
_SHEN_SIGMA = {"sigma1": 0.47, "sigma2": 0.34, "m0": 3.98e10}
# Size evolution at fixed mass, R ~ (1 + z)**beta_z, from van der Wel et al.
# (2014, ApJ 788, 28, Section 4): -0.75 for late types, -1.48 for early types.
_SIZE_EVOLUTION = {"late": -0.75, "early": -1.48}
_SHEN_Z = 0.1


def mass_size_relation_shen(log_mstar, redshift, *, quenched):
    r"""Median half-light radius and scatter from the SDSS relations of Shen et al.

    Shen et al. (2003, MNRAS 343, 978, eqs. 17-19) fitted the log-normal size
    distributions of about 140,000 SDSS galaxies at z ~ 0.1. Late types:

    .. math::

        \bar R = \gamma\,(M/M_\odot)^{\alpha}\,(1 + M/M_0)^{\beta-\alpha}\ \mathrm{kpc},

    with :math:`\alpha = 0.14`, :math:`\beta = 0.39`, :math:`\gamma = 0.10`,
    :math:`M_0 = 3.98\times10^{10} M_\odot`; early types :math:`\bar R = 2.88
    \times 10^{-6} (M/M_\odot)^{0.56}` kpc; both with the dispersion

    .. math::

        \sigma_{\ln R} = \sigma_2 + \frac{\sigma_1 - \sigma_2}{1 + (M/M_0)^2},

    :math:`\sigma_1 = 0.47`, :math:`\sigma_2 = 0.34` (the paper finds the
    early types' dispersion similar to that of bright late types). They are
    carried from z = 0.1 to other redshifts with the size evolution at fixed
    mass of van der Wel et al. (2014), :math:`(1+z)^{-0.75}` for late and
    :math:`(1+z)^{-1.48}` for early types. The dispersion is wider than van
    der Wel et al.'s at low mass, which is the point of this alternative.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like
        Redshift.
    quenched : array_like of bool
        Early-type (`True`) or late-type relation.

    Returns
    -------
    log_re_kpc : `~numpy.ndarray`
        log10 of the median half-light radius in kpc.
    sigma : `~numpy.ndarray`
        Scatter in dex.

    Examples
    --------
    >>> from minuet.simulate.relations import mass_size_relation_shen
    >>> log_re, sigma = mass_size_relation_shen(10.0, 0.1, quenched=False)
    >>> round(float(10**log_re), 2), round(float(sigma), 2)
    (2.66, 0.2)
    """
    log_mstar = np.asarray(log_mstar, dtype=float)
    z = np.asarray(redshift, dtype=float)
    quenched = np.asarray(quenched, dtype=bool)
    mass = 10.0**log_mstar
    late = _SHEN_LATE
    log_late = (
        np.log10(late["gamma"])
        + late["alpha"] * log_mstar
        + (late["beta"] - late["alpha"]) * np.log10(1.0 + mass / late["m0"])
    )
    log_early = np.log10(_SHEN_EARLY["b"]) + _SHEN_EARLY["a"] * log_mstar
    evolution = np.where(quenched, _SIZE_EVOLUTION["early"], _SIZE_EVOLUTION["late"])
    log_re = np.where(quenched, log_early, log_late) + evolution * np.log10(
        (1.0 + z) / (1.0 + _SHEN_Z)
    )
    sig = _SHEN_SIGMA
    sigma_ln = sig["sigma2"] + (sig["sigma1"] - sig["sigma2"]) / (1.0 + (mass / sig["m0"]) ** 2)
    return log_re, sigma_ln / np.log(10.0)


def star_forming_main_sequence_whitaker(log_mstar, redshift):
    r"""Mean log star-formation rate on the main sequence of Whitaker et al. (2012).

    Whitaker et al. (2012, ApJL 754, L29, eqs. 1-3) fitted NEWFIRM
    Medium-Band Survey galaxies over 0 < z < 2.5:

    .. math::

        \log \mathrm{SFR} = \alpha(z)\,(\log M_* - 10.5) + \beta(z),

        \alpha = 0.70 - 0.13 z,\quad \beta = 0.38 + 1.14 z - 0.19 z^2.

    Its slope is shallower than that of Speagle et al. (2014), which is the
    alternative it offers.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like
        Redshift.

    Returns
    -------
    log_sfr : `~numpy.ndarray`
        log10 star-formation rate in solar masses per year.

    Examples
    --------
    >>> from minuet.simulate.relations import star_forming_main_sequence_whitaker
    >>> round(float(star_forming_main_sequence_whitaker(10.5, 0.0)), 2)
    0.38
    """
    z = np.asarray(redshift, dtype=float)
    log_mstar = np.asarray(log_mstar, dtype=float)
    return (0.70 - 0.13 * z) * (log_mstar - 10.5) + 0.38 + 1.14 * z - 0.19 * z**2


def quenched_fraction_peng(log_mstar, redshift=None):
    r"""Mass-quenched fraction of the Peng et al. (2010) continuity model.

    Peng et al. (2010, ApJ 721, 193) show that a quenching rate proportional
    to the star-formation rate leaves a red fraction

    .. math::

        f_\mathrm{red}(M_*) = 1 - \exp(-M_*/M^*),

    with :math:`M^*` the Schechter mass of the star-forming population,
    :math:`\log M^*/M_\odot \approx 10.6` (Chabrier IMF), nearly constant
    with redshift. Unlike Hahn, Tinker & Wetzel (2017) it does not evolve
    with redshift: the alternative it offers.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.
    redshift : array_like, optional
        Ignored (the fraction does not evolve); accepted for a common call.

    Returns
    -------
    fraction : `~numpy.ndarray`

    Examples
    --------
    >>> from minuet.simulate.relations import quenched_fraction_peng
    >>> quenched_fraction_peng([10.0, 11.0]).round(2)
    array([0.22, 0.92])
    """
    log_mstar = np.asarray(log_mstar, dtype=float)
    return -np.expm1(-(10.0 ** (log_mstar - 10.6)))


def balmer_attenuation_garn_best(log_mstar):
    r"""Median H-alpha attenuation of star-forming galaxies by stellar mass.

    Garn & Best (2010, MNRAS 409, 421, eq. 8), from the Balmer decrements of
    about 90,000 SDSS DR7 star-forming galaxies:

    .. math::

        A_{\mathrm{H}\alpha} = 0.91 + 0.77 X + 0.11 X^2 - 0.09 X^3,\quad
        X = \log(M_*/10^{10} M_\odot),

    with a scatter of about 0.28 mag about it. The nebular colour excess is
    :math:`A_{\mathrm{H}\alpha}/3.33` for the Calzetti et al. (2000) curve,
    and the stellar continuum's is 0.44 times the nebular one (Calzetti et
    al. 2000), so the stars' :math:`A_V = 4.05 \times 0.44 \times
    A_{\mathrm{H}\alpha}/3.33`. The fit holds for :math:`8.5 < \log M_* <
    11.5`; the mass is clipped to that range.

    Parameters
    ----------
    log_mstar : array_like
        log10 stellar mass in solar masses.

    Returns
    -------
    a_halpha : `~numpy.ndarray`
        Attenuation of H-alpha in magnitudes.

    Examples
    --------
    >>> from minuet.simulate.relations import balmer_attenuation_garn_best
    >>> float(balmer_attenuation_garn_best(10.0))
    0.91
    """
    x = np.clip(np.asarray(log_mstar, dtype=float), 8.5, 11.5) - 10.0
    return 0.91 + 0.77 * x + 0.11 * x**2 - 0.09 * x**3

"""Named alternative modelling choices of the simulator.

Each variant fixes one choice on each of six axes:

``sed``
    the spectral library and how templates are mixed;
``dust_law``
    the shape of the internal attenuation curve;
``dust_geometry``
    how the attenuation prior maps onto a galaxy (a foreground screen, or
    stars and dust mixed in a slab seen at the disk's inclination);
``psf``
    the PSF family (core profile; every family carries the same
    scattered-light wings);
``sizes``
    the mass-size relations and their scatter;
``population``
    the star-forming main sequence and the quenched fraction.

A variant differs from ``"reference"`` on the axes its description names
and on nothing else. The plain `~minuet.simulate.SimulationConfig` draws
each galaxy under one of `TRAINING_VARIANTS`, chosen at random with equal
probability, so that a model trained on it can be tested on a variant in
`HELD_OUT_VARIANTS` whose choices no training variant makes
(leave-one-variant-out).
"""

__all__ = ["AXES", "HELD_OUT_VARIANTS", "TRAINING_VARIANTS", "VARIANTS", "variant_choices"]

#: The modelling axes a variant sets.
AXES = ("sed", "dust_law", "dust_geometry", "psf", "sizes", "population")

_REFERENCE = {
    "sed": "kcorrect",
    "dust_law": "calzetti00",
    "dust_geometry": "screen",
    "psf": "moffat",
    "sizes": "vdw14",
    "population": "speagle14",
}

_CHANGES = {
    "reference": {},
    "cww_templates": {"sed": "cww"},
    "mw_dust": {"dust_law": "ccm89"},
    "slab_dust": {"dust_geometry": "slab"},
    "kolmogorov_psf": {"psf": "kolmogorov"},
    "whitaker_population": {"population": "whitaker12"},
    "combined_alternative": {
        "sed": "kcorrect_lrg",
        "dust_law": "noll09",
        "psf": "vonkarman",
        "sizes": "shen03",
    },
}

#: One line per variant: the modelling choice it changes.
VARIANTS = {
    "reference": (
        "kcorrect NMF templates (Blanton & Roweis 2007) mixed to the drawn mass and SFR, "
        "Calzetti et al. (2000) screen with the Garn & Best (2010) mass prior, Moffat PSF "
        "with spread beta, van der Wel et al. (2014) sizes, Speagle et al. (2014) main "
        "sequence with the Hahn et al. (2017) quenched fraction"
    ),
    "cww_templates": (
        "SED library: the empirical Coleman, Wu & Weedman (1980) templates mixed by "
        "specific SFR, Bell et al. (2003) mass-to-light ratio, their built-in dust only"
    ),
    "mw_dust": (
        "dust law: the Milky Way curve of Cardelli, Clayton & Mathis (1989, R_V = 3.1) "
        "instead of Calzetti et al. (2000)"
    ),
    "slab_dust": (
        "dust geometry: stars and dust mixed in a uniform slab (Disney, Davies & Phillipps "
        "1989), so that inclined disks are more attenuated, instead of a screen"
    ),
    "kolmogorov_psf": (
        "PSF family: a Kolmogorov atmospheric profile (Fried 1966) instead of a Moffat"
    ),
    "whitaker_population": (
        "population: the Whitaker et al. (2012) main sequence and the Peng et al. (2010) "
        "mass-quenched fraction"
    ),
    "combined_alternative": (
        "four axes at once, none used in training: old light from the kcorrect LRG template, "
        "the steeper Noll et al. (2009) modified Calzetti law, a von Karman PSF (Tokovinin "
        "2002) and the Shen et al. (2003) size relations with their scatter"
    ),
}

#: Variants that the default training mixture leaves out.
HELD_OUT_VARIANTS = ("combined_alternative",)

#: Variants that the default training mixture draws from, in equal parts.
TRAINING_VARIANTS = tuple(name for name in VARIANTS if name not in HELD_OUT_VARIANTS)


def variant_choices(name):
    """The choice on every modelling axis of one variant.

    Parameters
    ----------
    name : str
        A key of `VARIANTS`.

    Returns
    -------
    choices : dict
        Axis name to choice, for every axis in `AXES`.

    Examples
    --------
    >>> from minuet.simulate import variant_choices
    >>> variant_choices("mw_dust")["dust_law"]
    'ccm89'
    >>> variant_choices("mw_dust")["psf"] == variant_choices("reference")["psf"]
    True
    """
    if name not in _CHANGES:
        msg = (
            f"unknown simulator variant {name!r}; expected one of {sorted(VARIANTS)}. "
            "See minuet.simulate.VARIANTS for what each changes."
        )
        raise ValueError(msg)
    return {**_REFERENCE, **_CHANGES[name]}

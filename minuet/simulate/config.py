"""Configuration of the Legacy-Surveys-like simulator."""

import json
from dataclasses import dataclass

from .._config import JSONConfig
from .variants import TRAINING_VARIANTS, VARIANTS

__all__ = ["SimulationConfig"]

SURVEYS = ("DECaLS", "DES", "BASS/MzLS")


@dataclass(frozen=True)
class SimulationConfig(JSONConfig):
    """Settings of the simulated survey and galaxy population.

    The defaults are the broad training distribution: each galaxy is drawn
    under one of the modelling variants in ``variants`` (chosen with equal
    probability and recorded in the truth catalogue's ``variant`` column),
    in any of the Legacy Surveys' imaging areas. Use :meth:`from_variant`
    for a single variant, for example one of
    `~minuet.simulate.HELD_OUT_VARIANTS` as a test set that no default
    training set contains.

    The survey settings describe DECaLS DR9 (south) coadds at the native
    pixel scale. Per-pixel sky noise is the median measured from the
    inverse-variance maps of real DR9-south cutouts (g 0.0019, r 0.0024,
    z 0.0084 nanomaggies); sky brightness is the nominal DECaLS dark sky of
    Dey et al. (2019, AJ 157, 168); the seeing distribution is centred on
    the DR9 median of about 1.3 arcsec in r and scaled to g and z with the
    Kolmogorov law FWHM proportional to wavelength**-0.2 (Roddier 1981,
    Progress in Optics 19, 281).

    Parameters
    ----------
    variants : tuple of str
        Modelling variants mixed in equal parts (keys of
        `~minuet.simulate.VARIANTS`); by default every training variant,
        `~minuet.simulate.HELD_OUT_VARIANTS` excluded.
    stamp_size : int
        Cutout side in pixels.
    pixscale : float
        Pixel scale in arcsec.
    mag_limit : float
        Central galaxies are brighter than this total r-band AB magnitude.
    z_min, z_max : float
        Redshift range of central galaxies (0 < z <= 1).
    log_mstar_min : float
        Smallest log10 stellar mass drawn from the mass function.
    sky_sigma : tuple of float
        Median per-pixel sky noise in g, r, z (nanomaggies).
    sky_sigma_scatter : float
        Log-normal scatter (natural log) of the sky noise between cutouts.
    sky_brightness : tuple of float
        Sky surface brightness in g, r, z (AB mag arcsec^-2); with
        ``sky_sigma`` it sets the effective gain for source Poisson noise.
    psf_fwhm_r : float
        Median r-band PSF FWHM in arcsec.
    psf_fwhm_scatter : float
        Log-normal scatter (natural log) of the FWHM between cutouts.
    psf_fwhm_range : tuple of float
        Clipping range of the r-band FWHM in arcsec.
    moffat_beta_range : tuple of float
        Range of the Moffat index of the PSF core, drawn per cutout (Moffat
        PSF family only).
    psf_wing_range : tuple of float
        Range of the r-band fraction of light in the PSF's scattered-light
        wings, drawn per cutout (g and z scale as wavelength**-2).
    survey_fractions : tuple of float
        Shares of cutouts from the DECaLS, DES and BASS/MzLS areas, roughly
        in proportion to their footprints (Dey et al. 2019, AJ 157, 168).
    survey_depth_offsets : tuple of tuple of float
        Per-survey g, r, z depth relative to DECaLS (mag, positive =
        deeper), which scales ``sky_sigma``. Approximate: DES's wide-field
        coadds are deeper than DECaLS (Abbott et al. 2018, ApJS 239, 18),
        BASS is shallower in g and r and MzLS similar or deeper in z (Dey et
        al. 2019).
    ebv_median, ebv_scatter : float
        Median and log-normal scatter of the Galactic E(B-V) per cutout,
        typical of high-latitude sky in the Schlegel, Finkbeiner & Davis
        (1998, ApJ 500, 525) maps.
    sky_residual : float
        RMS of the residual sky level left by sky subtraction, in units of
        the per-pixel sky noise (a constant plus a gradient per band); an
        assumption, not a measurement.
    nearby_fraction : float
        Share of central galaxies drawn from the nearby volume
        ``z < nearby_z_max`` (bright, large galaxies).
    nearby_z_max : float
        Upper redshift of the nearby volume.
    merger_fraction : float
        Fraction of central galaxies given an interacting companion.
    neighbour_mag_limit : float
        Field galaxies down to this r magnitude are scattered over the cutout.
    star_density : float
        Stars per square arcminute down to ``star_mag_limit``.
    star_mag_limit : float
        Faintest r magnitude of field stars.
    bad_column_rate : float
        Probability per cutout and band of a masked detector column.
    edge_rate : float
        Probability per cutout of a masked strip at an image edge.

    Examples
    --------
    A survey with worse seeing than DECaLS, everything else unchanged:

    >>> from minuet.simulate import SimulationConfig, simulate
    >>> config = SimulationConfig(psf_fwhm_r=1.8)
    >>> config.sky_sigma
    (0.0019, 0.0024, 0.0084)
    >>> images, invvar, footprint, truth = simulate(2, seed=0, config=config)
    >>> bool(truth["psf_fwhm_r"].mean().value > 1.3)
    True

    A training mixture that leaves out the Kolmogorov PSF as well:

    >>> from minuet.simulate import TRAINING_VARIANTS
    >>> mixture = tuple(v for v in TRAINING_VARIANTS if v != "kolmogorov_psf")
    >>> "kolmogorov_psf" in SimulationConfig(variants=mixture).variants
    False
    """

    variants: tuple[str, ...] = TRAINING_VARIANTS
    stamp_size: int = 72
    pixscale: float = 0.262
    mag_limit: float = 21.5
    z_min: float = 0.02
    z_max: float = 1.0
    log_mstar_min: float = 8.0
    sky_sigma: tuple[float, float, float] = (0.0019, 0.0024, 0.0084)
    sky_sigma_scatter: float = 0.12
    sky_brightness: tuple[float, float, float] = (22.04, 20.91, 18.46)
    psf_fwhm_r: float = 1.3
    psf_fwhm_scatter: float = 0.15
    psf_fwhm_range: tuple[float, float] = (0.8, 2.4)
    moffat_beta_range: tuple[float, float] = (2.5, 4.8)
    psf_wing_range: tuple[float, float] = (0.01, 0.04)
    survey_fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)
    survey_depth_offsets: tuple[tuple[float, float, float], ...] = (
        (0.0, 0.0, 0.0),
        (0.5, 0.5, 0.3),
        (-0.2, -0.3, 0.2),
    )
    ebv_median: float = 0.03
    ebv_scatter: float = 0.6
    sky_residual: float = 0.03
    nearby_fraction: float = 0.05
    nearby_z_max: float = 0.06
    merger_fraction: float = 0.2
    neighbour_mag_limit: float = 24.0
    star_density: float = 1.0
    star_mag_limit: float = 24.0
    bad_column_rate: float = 0.03
    edge_rate: float = 0.02

    def __post_init__(self):
        variants = (self.variants,) if isinstance(self.variants, str) else tuple(self.variants)
        unknown = [v for v in variants if v not in VARIANTS]
        if not variants or unknown:
            msg = (
                f"variants must be a non-empty tuple of names from {sorted(VARIANTS)}; "
                f"got {self.variants!r}. See minuet.simulate.VARIANTS."
            )
            raise ValueError(msg)
        if len(set(variants)) != len(variants):
            msg = f"variants must not repeat a name; got {variants!r}."
            raise ValueError(msg)
        object.__setattr__(self, "variants", variants)
        if not self.z_min < self.nearby_z_max <= self.z_max:
            msg = (
                "nearby_z_max must lie in (z_min, z_max]; "
                f"got nearby_z_max={self.nearby_z_max!r} with z_min={self.z_min!r}."
            )
            raise ValueError(msg)
        if (
            len(self.survey_fractions) != 3
            or min(self.survey_fractions) < 0
            or not (sum(self.survey_fractions) > 0)
        ):
            msg = (
                "survey_fractions must hold three non-negative shares (DECaLS, DES, "
                f"BASS/MzLS) with a positive sum; got {self.survey_fractions!r}."
            )
            raise ValueError(msg)
        object.__setattr__(self, "survey_fractions", tuple(float(v) for v in self.survey_fractions))
        offsets = tuple(tuple(float(x) for x in row) for row in self.survey_depth_offsets)
        if len(offsets) != 3 or any(len(row) != 3 for row in offsets):
            msg = (
                "survey_depth_offsets must be three rows (DECaLS, DES, BASS/MzLS) of three "
                f"g, r, z offsets; got {self.survey_depth_offsets!r}."
            )
            raise ValueError(msg)
        object.__setattr__(self, "survey_depth_offsets", offsets)
        for name in ("moffat_beta_range", "psf_wing_range"):
            value = getattr(self, name)
            lo, hi = (float(v) for v in value)
            if not 0 <= lo <= hi:
                msg = f"{name} must be (low, high) with 0 <= low <= high; got {value!r}."
                raise ValueError(msg)
            object.__setattr__(self, name, (lo, hi))
        if self.moffat_beta_range[0] <= 1.0:
            msg = (
                "moffat_beta_range must stay above 1 (a Moffat with beta <= 1 has "
                f"infinite flux); got {self.moffat_beta_range!r}."
            )
            raise ValueError(msg)
        if not 0 <= self.psf_wing_range[1] < 0.5:
            msg = f"psf_wing_range must lie in [0, 0.5); got {self.psf_wing_range!r}."
            raise ValueError(msg)
        if not 0.0 < self.z_min < self.z_max <= 1.0:
            msg = (
                "z_min and z_max must satisfy 0 < z_min < z_max <= 1; "
                f"got z_min={self.z_min!r}, z_max={self.z_max!r}."
            )
            raise ValueError(msg)
        if self.stamp_size < 16 or self.stamp_size % 2:
            msg = f"stamp_size must be an even number of pixels >= 16; got {self.stamp_size!r}."
            raise ValueError(msg)
        for name in ("sky_sigma", "sky_brightness"):
            value = getattr(self, name)
            if len(value) != 3 or min(value) <= 0:
                msg = f"{name} must hold three positive numbers (g, r, z); got {value!r}."
                raise ValueError(msg)
            object.__setattr__(self, name, tuple(float(v) for v in value))
        for name in ("merger_fraction", "bad_column_rate", "edge_rate", "nearby_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"{name} is a probability and must lie in [0, 1]; got {value!r}."
                raise ValueError(msg)
        object.__setattr__(self, "psf_fwhm_range", tuple(float(v) for v in self.psf_fwhm_range))

    @classmethod
    def from_variant(cls, name, **overrides):
        """The configuration of a single modelling variant.

        Parameters
        ----------
        name : str
            A key of `~minuet.simulate.VARIANTS`.
        **overrides
            Any other settings, as for the constructor.

        Returns
        -------
        config : `SimulationConfig`

        Examples
        --------
        >>> from minuet.simulate import HELD_OUT_VARIANTS, SimulationConfig
        >>> config = SimulationConfig.from_variant(HELD_OUT_VARIANTS[0], mag_limit=20.0)
        >>> config.variants, config.mag_limit
        (('combined_alternative',), 20.0)
        """
        if "variants" in overrides:
            msg = (
                "from_variant sets variants itself; pass other settings only, or build "
                "SimulationConfig(variants=...) for a mixture."
            )
            raise TypeError(msg)
        if name not in VARIANTS:
            msg = f"unknown simulator variant {name!r}; expected one of {sorted(VARIANTS)}."
            raise ValueError(msg)
        return cls(variants=(name,), **overrides)

    def to_json(self):
        """Return the settings as a compact JSON string.

        Compact and with sorted keys, so that the text (recorded in every
        simulated file, and hashed as the simulator's fingerprint by the
        benchmarks) is the same for the same settings.

        Returns
        -------
        text : str

        Examples
        --------
        >>> import json
        >>> from minuet.simulate import SimulationConfig
        >>> json.loads(SimulationConfig(mag_limit=21.0).to_json())["mag_limit"]
        21.0
        """
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, config):
        """Build a configuration from the output of ``to_dict``.

        Parameters
        ----------
        config : dict
            Settings by name; missing ones take their defaults.

        Returns
        -------
        config : `SimulationConfig`

        Examples
        --------
        >>> from minuet.simulate import SimulationConfig
        >>> config = SimulationConfig(mag_limit=21.0)
        >>> SimulationConfig.from_dict(config.to_dict()) == config
        True
        """
        config = dict(config)
        if "moffat_beta" in config:
            # files written before the Moffat index was drawn per cutout
            import warnings

            from astropy.utils.exceptions import AstropyUserWarning

            beta = float(config.pop("moffat_beta"))
            config.setdefault("moffat_beta_range", [beta, beta])
            msg = (
                f"simulator settings from an earlier version: moffat_beta={beta} is read as "
                f"moffat_beta_range=({beta}, {beta}); settings added since take their defaults."
            )
            warnings.warn(msg, AstropyUserWarning, stacklevel=2)
        return super().from_dict(config)

"""Configuration of the Legacy-Surveys-like simulator."""

import json
from dataclasses import asdict, dataclass, fields

__all__ = ["SimulationConfig"]


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of the simulated survey and galaxy population.

    The defaults describe DECaLS DR9 (south) coadds at the native pixel
    scale. Per-pixel sky noise is the median measured from the
    inverse-variance maps of real DR9-south cutouts (g 0.0019, r 0.0024,
    z 0.0084 nanomaggies); sky brightness is the nominal DECaLS dark sky of
    Dey et al. (2019, AJ 157, 168); the seeing distribution is centred on
    the DR9 median of about 1.3 arcsec in r and scaled to g and z with the
    Kolmogorov law FWHM proportional to wavelength**-0.2 (Roddier 1981,
    Progress in Optics 19, 281).

    Parameters
    ----------
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
    moffat_beta : float
        Moffat index of the PSF.
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
    """

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
    moffat_beta: float = 3.5
    merger_fraction: float = 0.2
    neighbour_mag_limit: float = 24.0
    star_density: float = 1.0
    star_mag_limit: float = 24.0
    bad_column_rate: float = 0.03
    edge_rate: float = 0.02

    def __post_init__(self):
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
        for name in ("merger_fraction", "bad_column_rate", "edge_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                msg = f"{name} is a probability and must lie in [0, 1]; got {value!r}."
                raise ValueError(msg)
        object.__setattr__(self, "psf_fwhm_range", tuple(float(v) for v in self.psf_fwhm_range))

    def to_dict(self):
        """Return a JSON-serialisable dictionary of the settings.

        Returns
        -------
        config : dict

        Examples
        --------
        >>> from minuet.simulate import SimulationConfig
        >>> SimulationConfig(mag_limit=21.0).to_dict()["mag_limit"]
        21.0
        """
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def to_json(self):
        """Return the settings as a JSON string.

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
        """Build a configuration from :meth:`to_dict` output.

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
        known = {f.name for f in fields(cls)}
        unknown = set(config) - known
        if unknown:
            msg = (
                f"unknown simulator settings {sorted(unknown)}; "
                f"expected a subset of {sorted(known)}."
            )
            raise ValueError(msg)
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})

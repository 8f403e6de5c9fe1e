"""Rendering one cutout: light profiles, PSF, noise, masks and footprint.

Profiles are drawn by GalSim on a grid oversampled twice, padded around the
stamp so that light from just outside is scattered in by the PSF. The
structure that GalSim has no profile for (spiral arms, clumps, tidal tails,
lopsidedness) is painted on the same grid with numpy. Each band is then
convolved with its own Moffat PSF by FFT and binned to the survey pixels.
"""

import functools

import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.special import gammainc

from ._deps import import_galsim

__all__ = []

OVERSAMPLE = 2
PAD = 12  # survey pixels of margin on each side


def _sersic_b(n):
    """Ciotti & Bertin (1999, A&A 352, 447) asymptotic b_n."""
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n**2)


class Canvas:
    """The oversampled, padded drawing grid of one cutout."""

    def __init__(self, config):
        self.size = config.stamp_size
        self.nfine = OVERSAMPLE * (self.size + 2 * PAD)
        self.scale = config.pixscale / OVERSAMPLE
        coords = (np.arange(self.nfine) - self.centre) * self.scale
        self.x = coords[None, :]
        self.y = coords[:, None]
        self.galsim = import_galsim()

    @property
    def centre(self):
        """Fine-grid array coordinate of the stamp's central pixel centre."""
        return OVERSAMPLE * (self.size // 2 + PAD) + 0.5 * (OVERSAMPLE - 1)

    def draw(self, profile, x0, y0):
        """Draw a unit-flux GalSim profile centred at (x0, y0) arcsec."""
        offset = (
            self.centre + x0 / self.scale - 0.5 * (self.nfine - 1),
            self.centre + y0 / self.scale - 0.5 * (self.nfine - 1),
        )
        image = profile.drawImage(
            nx=self.nfine, ny=self.nfine, scale=self.scale, offset=offset, method="no_pixel"
        )
        return image.array.astype(np.float64, copy=False)

    def sersic(self, n, re, q, pa, x0=0.0, y0=0.0):
        """Unit-flux elliptical Sersic profile, cusp flux restored at the centre.

        Sampling a cuspy profile at pixel centres misses flux in the central
        pixel; the deficit with respect to the analytic flux inside the grid
        is put back as a point at the centre.
        """
        galsim = self.galsim
        jac = _jacobian(q, pa)
        prof = galsim.Sersic(n=n, half_light_radius=re).transform(*jac.ravel()).withFlux(1.0)
        image = self.draw(prof, x0, y0)
        half = 0.5 * self.nfine * self.scale
        inside = gammainc(2.0 * n, _sersic_b(n) * (half / re) ** (1.0 / n))
        total = image.sum()
        if total > inside:
            # A profile much smaller than a fine pixel can be sampled right at
            # its cusp, which over-counts: scale back to the analytic flux.
            image *= inside / total
        else:
            self.deposit(image, np.array([x0]), np.array([y0]), np.array([inside - total]))
        return image

    def add_sersic(self, targets, fluxes, n, re, q, pa, x0, y0):
        """Add a small Sersic source to each band's fine image, drawn on a local patch.

        Field neighbours are small and faint: drawing each on a patch of
        about 12 half-light radii (at least 16 fine pixels) instead of the
        whole canvas is several times faster. The patch's light is scaled to
        the profile's flux inside the patch, and the part of the patch
        outside the canvas is dropped, as its light would be.
        """
        galsim = self.galsim
        half = int(np.clip(np.ceil(6.0 * re / self.scale), 8, self.nfine // 2))
        cx = self.centre + x0 / self.scale
        cy = self.centre + y0 / self.scale
        ix, iy = int(np.floor(cx)), int(np.floor(cy))
        x_lo, x_hi = max(ix - half, 0), min(ix + half + 1, self.nfine)
        y_lo, y_hi = max(iy - half, 0), min(iy + half + 1, self.nfine)
        if x_lo >= x_hi or y_lo >= y_hi:
            return
        bounds = galsim.BoundsI(ix - half + 1, ix + half + 1, iy - half + 1, iy + half + 1)
        patch = galsim.ImageD(bounds, scale=self.scale)
        jac = _jacobian(q, pa)
        prof = galsim.Sersic(n=n, half_light_radius=re).transform(*jac.ravel()).withFlux(1.0)
        prof.drawImage(image=patch, center=galsim.PositionD(cx + 1.0, cy + 1.0), method="no_pixel")
        image = patch.array
        total = image.sum()
        inside = gammainc(2.0 * n, _sersic_b(n) * (half * self.scale / re) ** (1.0 / n))
        if total > 0:
            image = image * (inside / total)
        part = image[
            y_lo - (iy - half) : y_hi - (iy - half), x_lo - (ix - half) : x_hi - (ix - half)
        ]
        for target, flux in zip(targets, fluxes, strict=True):
            target[y_lo:y_hi, x_lo:x_hi] += flux * part

    def deposit(self, image, x, y, flux):
        """Add point sources (arcsec positions) with bilinear weights."""
        fx = self.centre + np.asarray(x) / self.scale
        fy = self.centre + np.asarray(y) / self.scale
        ix = np.floor(fx).astype(int)
        iy = np.floor(fy).astype(int)
        wx = fx - ix
        wy = fy - iy
        n = self.nfine
        for dx, dy, w in (
            (0, 0, (1 - wx) * (1 - wy)),
            (1, 0, wx * (1 - wy)),
            (0, 1, (1 - wx) * wy),
            (1, 1, wx * wy),
        ):
            jx, jy = ix + dx, iy + dy
            ok = (jx >= 0) & (jx < n) & (jy >= 0) & (jy < n)
            if ok.size == 1:
                # One point cannot repeat a pixel: plain indexing adds the same.
                image[jy[ok], jx[ok]] += (flux * w)[ok]
            else:
                np.add.at(image, (jy[ok], jx[ok]), (flux * w)[ok])

    def disk_plane(self, q, pa, x0=0.0, y0=0.0):
        """Radius and azimuth in the plane of an inclined disk (arcsec, rad)."""
        c, s = np.cos(pa), np.sin(pa)
        dx = self.x - x0
        dy = self.y - y0
        u = dx * c + dy * s
        v = (-dx * s + dy * c) / q
        return np.hypot(u, v), np.arctan2(v, u)

    def psf_transform(self, prof):
        """Real FFT of a unit-flux GalSim PSF profile centred on the grid origin."""
        half = 0.5 * (self.nfine - 1)
        image = prof.drawImage(
            nx=self.nfine,
            ny=self.nfine,
            scale=self.scale,
            offset=(self.nfine // 2 - half, self.nfine // 2 - half),
            method="no_pixel",
        ).array
        return scipy.fft.rfft2(np.fft.ifftshift(image / image.sum()))

    def convolve_bin(self, image, psf_ft):
        """Convolve a fine image with a PSF and bin it to survey pixels."""
        conv = scipy.fft.irfft2(scipy.fft.rfft2(image) * psf_ft, s=image.shape)
        return _bin_stamp(conv, self.size)


def _bin_stamp(fine, size):
    """Sum 2 x 2 blocks of fine pixels into the stamp's survey pixels, margin dropped.

    Only the stamp itself is binned, and the four fine pixels are added as
    ``(a00 + a01) + (a10 + a11)``: the order in which numpy's
    ``reshape(m, 2, m, 2).sum(axis=(1, 3))`` adds them, so the result is the
    same to the last bit, at a tenth of the cost of that reduction over
    non-adjacent axes.
    """
    if OVERSAMPLE != 2:
        m = fine.shape[-1] // OVERSAMPLE
        binned = fine.reshape(m, OVERSAMPLE, m, OVERSAMPLE).sum(axis=(1, 3))
        return binned[PAD : PAD + size, PAD : PAD + size]
    lo, hi = 2 * PAD, 2 * (PAD + size)
    stamp = fine[lo:hi, lo:hi]
    return (stamp[0::2, 0::2] + stamp[0::2, 1::2]) + (stamp[1::2, 0::2] + stamp[1::2, 1::2])


PSF_FAMILIES = ("moffat", "kolmogorov", "vonkarman")

# Von Karman turbulence with a 25 m outer scale (Tokovinin 2002, PASP 114,
# 1156, uses outer scales of this order for good sites) and a Fried
# parameter giving about 1 arcsec at 650 nm; rescaled to the drawn FWHM.
_VK_LAM_NM = 650.0
_VK_R0_M = 0.13
_VK_L0_M = 25.0


@functools.cache
def _vonkarman_base(galsim):
    prof = galsim.VonKarman(lam=_VK_LAM_NM, r0=_VK_R0_M, L0=_VK_L0_M)
    image = prof.drawImage(nx=256, ny=256, scale=0.02, method="no_pixel")
    return prof, image.calculateFWHM()


def psf_profile(galsim, family, fwhm, beta, wing):
    """Unit-flux PSF: a core of the given family and FWHM plus scattered-light wings.

    The core is a Moffat (index ``beta``; Moffat 1969, A&A 3, 455; a pure
    Kolmogorov atmosphere corresponds to beta = 4.765, Trujillo et al. 2001,
    MNRAS 328, 977, telescope aberrations and guiding lower it), a
    Kolmogorov profile (Fried 1966, JOSA 56, 1372) or a von Karman profile
    with a finite outer scale (Tokovinin 2002). A fraction ``wing`` of the
    light is in a broad halo falling as r**-3, a Moffat of index 1.5 and
    five times the core's FWHM, truncated at 40 FWHM (Racine 1996, PASP 108,
    699: ground-based PSFs carry a few per cent of their light in such an
    aureole).
    """
    if family == "moffat":
        core = galsim.Moffat(beta=beta, fwhm=fwhm)
    elif family == "kolmogorov":
        core = galsim.Kolmogorov(fwhm=fwhm)
    elif family == "vonkarman":
        base, base_fwhm = _vonkarman_base(galsim)
        core = base.dilate(fwhm / base_fwhm)
    else:
        msg = f"unknown PSF family {family!r}; expected one of {PSF_FAMILIES}."
        raise ValueError(msg)
    if wing <= 0:
        return core
    halo = galsim.Moffat(beta=1.5, fwhm=5.0 * fwhm, trunc=40.0 * fwhm)
    return galsim.Add([core.withFlux(1.0 - wing), halo.withFlux(wing)])


def sky_residual(coeffs, sky_sigma, size):
    """Residual sky of a cutout: a constant plus a gradient per band.

    ``coeffs`` (3 bands x 3: constant, x slope, y slope) are in units of the
    band's sky noise; the slopes are per half stamp. Legacy Surveys coadds
    keep small residuals of this kind after their sky fits (Dey et al. 2019,
    AJ 157, 168); their size here is an assumption, a few per cent of the
    noise.
    """
    ramp = (np.arange(size) - 0.5 * (size - 1)) / (0.5 * size)
    plane = (
        coeffs[:, 0, None, None]
        + coeffs[:, 1, None, None] * ramp[None, None, :]
        + coeffs[:, 2, None, None] * ramp[None, :, None]
    )
    return plane * np.asarray(sky_sigma)[:, None, None]


def _jacobian(q, pa):
    """Map a round profile to one with axis ratio q, major axis at angle pa."""
    c, s = np.cos(pa), np.sin(pa)
    return np.array([[c, -q * s], [s, q * c]])


def central_components(canvas, gal, rng):
    """Unit-flux fine images of the central galaxy's six components.

    ``gal`` holds one galaxy's parameters in arcsec and radians. Components
    the galaxy lacks (arms, clumps, bar, tail) are None rather than images of
    zeros; the bulge and the disk are always drawn.
    """
    x0, y0 = gal["x0"], gal["y0"]
    pa = gal["pa"]
    bulge = canvas.sersic(gal["n_bulge"], gal["re_bulge"], gal["q_bulge"], pa, x0, y0)
    disk = canvas.sersic(1.0, gal["re_disk"], gal["q_disk"], pa, x0, y0)
    h = gal["re_disk"] / 1.678  # exponential scale length
    if gal["asymmetry"] > 0 or gal["n_arms"] > 0:
        radius, phi = canvas.disk_plane(gal["q_disk"], pa, x0, y0)
    if gal["asymmetry"] > 0:
        disk = disk * (1.0 + gal["asymmetry"] * np.cos(phi - gal["tail_angle"]))
        disk /= disk.sum()

    arms = None
    if gal["n_arms"] > 0:
        phase = gal["n_arms"] * (phi - np.log(np.maximum(radius, 1e-3) / h) / np.tan(gal["pitch"]))
        pattern = (0.5 * (1.0 + np.cos(phase + gal["arm_phase"]))) ** 3
        taper = -np.expm1(-((radius / (0.8 * h)) ** 2))
        arms = disk * pattern * taper
        arms /= max(arms.sum(), 1e-30)

    clumps = None
    if gal["n_clumps"] > 0:
        k = gal["n_clumps"]
        r_c = rng.gamma(2.0, h, k)
        a_c = rng.uniform(0.0, 2.0 * np.pi, k)
        u, v = r_c * np.cos(a_c), r_c * np.sin(a_c) * gal["q_disk"]
        c, s = np.cos(pa), np.sin(pa)
        clumps = np.zeros_like(disk)
        canvas.deposit(clumps, x0 + u * c - v * s, y0 + u * s + v * c, rng.dirichlet(np.ones(k)))

    bar = None
    if gal["bar"]:
        jac = _jacobian(gal["q_disk"], pa) @ _jacobian(0.3, gal["bar_angle"])
        prof = canvas.galsim.Sersic(n=0.5, half_light_radius=gal["bar_length"])
        bar = canvas.draw(prof.transform(*jac.ravel()).withFlux(1.0), x0, y0)
        bar /= max(bar.sum(), 1e-30)  # a thin bar seen edge-on is undersampled

    tail = None
    if gal["tail"]:
        tail = np.zeros_like(disk)
        _paint_tail(canvas, tail, x0, y0, gal["re_disk"], gal["tail_angle"], rng)
    return [bulge, disk, arms, clumps, bar, tail]


def _paint_tail(canvas, image, x0, y0, scale, angle, rng, npts=60):
    """A curved tidal tail: points along an opening arc, fading outward."""
    t = np.linspace(0.0, 1.0, npts)
    r = scale * (1.0 + 3.0 * t)
    theta = angle + 1.2 * t
    jitter = 0.15 * scale * rng.standard_normal((2, npts))
    w = 1.0 - 0.7 * t
    canvas.deposit(
        image, x0 + r * np.cos(theta) + jitter[0], y0 + r * np.sin(theta) + jitter[1], w / w.sum()
    )


def companion_image(canvas, comp, rng):
    """Unit-flux image of an interacting companion with its own tail."""
    image = canvas.sersic(comp["n"], comp["re"], comp["q"], comp["pa"], comp["x0"], comp["y0"])
    tail = np.zeros_like(image)
    _paint_tail(canvas, tail, comp["x0"], comp["y0"], comp["re"], comp["tail_angle"], rng)
    return 0.92 * image + 0.08 * tail


def segmentation_footprint(model, sky_sigma, *, fwhm_pix):
    """Footprint of the central object in its noiseless image.

    Pixels where any band exceeds its sky noise, connected to the centre. A
    source too faint for that falls back to a disk of radius one PSF FWHM.
    """
    size = model.shape[-1]
    above = np.any(model > sky_sigma[:, None, None], axis=0)
    labels, _ = ndimage.label(above)
    centre = labels[size // 2 - 1 : size // 2 + 1, size // 2 - 1 : size // 2 + 1]
    chosen = centre[centre > 0]
    if chosen.size:
        return labels == np.bincount(chosen).argmax()
    yy, xx = np.mgrid[:size, :size]
    return np.hypot(yy - size // 2, xx - size // 2) <= max(fwhm_pix, 2.0)


def half_light_radius(image, canvas, x0, y0):
    """Circular half-light radius (arcsec) of a fine image about (x0, y0)."""
    r = np.hypot(canvas.x - x0, canvas.y - y0)
    step = canvas.scale / 2
    idx = (r / step).astype(int).ravel()
    prof = np.cumsum(np.bincount(idx, weights=image.ravel()))
    prof /= prof[-1]
    k = int(np.searchsorted(prof, 0.5))
    lo = prof[k - 1] if k else 0.0
    return step * (k + (0.5 - lo) / max(prof[k] - lo, 1e-12))

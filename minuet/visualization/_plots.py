"""Figures astronomers expect: cutout grids and corner plots."""

import numpy as np

from ._rgb import rgb_composite

__all__ = ["corner_plot", "plot_cutouts"]


#: Colour of masked or missing pixels in :func:`plot_cutouts`: a mid grey,
#: which no arcsinh composite of real flux produces over a whole pixel block
#: by chance and which neither reads as sky (black) nor as a bright core.
MASKED_COLOR = "0.5"


def _masked_colormap(color):
    """A colormap that draws every valid value transparent and masked values in ``color``."""
    from matplotlib.colors import ListedColormap

    return ListedColormap([(0.0, 0.0, 0.0, 0.0)], name="minuet_masked").with_extremes(bad=color)


def _bad_pixels(flux, mask):
    """Pixels to draw as masked, shape ``(N, H, W)``: any band masked or not finite."""
    bad = ~np.isfinite(np.ma.getdata(flux))
    if np.ma.isMaskedArray(flux):
        bad |= np.ma.getmaskarray(flux)
    bad = bad.any(axis=-3)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.ndim == flux.ndim:  # one mask per band
            mask = mask.any(axis=-3)
        try:
            bad = bad | np.broadcast_to(mask, bad.shape)
        except ValueError:
            msg = (
                f"plot_cutouts expects a mask of shape {bad.shape} (one per cutout) or "
                f"{flux.shape} (one per band); got shape {mask.shape}. Pass the mask that "
                "belongs to these cutouts, True where a pixel is bad."
            )
            raise ValueError(msg) from None
    return bad


def plot_cutouts(flux, *, mask=None, titles=None, rows=None, ncols=8, panel_size=1.4,
                 rgb_kwargs=None, masked_color=MASKED_COLOR):
    """Show rows of g, r, z cutouts as colour composites.

    Masked or missing pixels are drawn in ``masked_color`` (grey by default),
    never as black sky: a pixel is masked where ``mask`` is True, where
    ``flux`` is a masked array with that pixel masked, or where any band is
    not finite (NaN). A pixel masked in one band is drawn masked, since its
    colour cannot be shown.

    Parameters
    ----------
    flux : array-like or `~numpy.ma.MaskedArray`
        Flux in nanomaggies, shape ``(N, 3, H, W)`` or ``(3, H, W)``.
    mask : array-like of bool, optional
        True where a pixel is bad, shape ``(N, H, W)`` (one mask per cutout)
        or ``(N, 3, H, W)`` (one per band), for example ``invvar == 0``.
    titles : sequence of str, optional
        One title per cutout.
    rows : sequence of str, optional
        Labels for each row of panels, written on the left (for example
        ``["input", "reconstruction"]`` when ``flux`` holds both, row by row).
    ncols : int, optional
        Panels per row.
    panel_size : float, optional
        Size of each panel in inches.
    rgb_kwargs : dict, optional
        Passed to :func:`rgb_composite`.
    masked_color : color, optional
        Any Matplotlib colour for masked pixels.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.visualization import plot_cutouts
    >>> flux = np.ones((4, 3, 16, 16))
    >>> flux[0, :, :4, :4] = np.nan  # drawn grey
    >>> fig = plot_cutouts(flux, ncols=2)
    >>> len(fig.axes)
    4
    """
    import matplotlib.pyplot as plt

    flux = flux if np.ma.isMaskedArray(flux) else np.asarray(flux)
    if flux.ndim == 3:
        flux = flux[None]
        if mask is not None:
            mask = np.asarray(mask)[None]
    images = rgb_composite(np.ma.filled(flux.astype(float), np.nan), **(rgb_kwargs or {}))
    bad = _bad_pixels(flux, mask)
    cmap = _masked_colormap(masked_color)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(panel_size * ncols, panel_size * nrows), squeeze=False,
        layout="constrained",
    )
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.remove()
            continue
        ax.imshow(images[i], origin="lower", interpolation="nearest")
        if bad[i].any():
            # valid pixels map to a transparent colour, masked ones to the bad colour
            ax.imshow(np.ma.masked_array(np.zeros(bad[i].shape), mask=bad[i]), cmap=cmap,
                      origin="lower", interpolation="nearest", vmin=0, vmax=1)
        if titles is not None:
            ax.set_title(titles[i], fontsize="small")
    if rows is not None:
        for label, ax in zip(rows, axes[:, 0], strict=False):
            ax.set_ylabel(label)
    return fig


def corner_plot(samples, *, labels=None, truths=None, bins=40, fig=None, color="k",
                color_by=None, color_label=None, cmap="viridis", vmin=None, vmax=None,
                contours=True):
    """Draw a corner plot of posterior samples, or a scatter matrix of a catalogue.

    Below the diagonal each panel pairs two dimensions; the diagonal shows the
    histogram of each. Given ``color_by``, every point is drawn coloured by its
    value (for example the latent of each galaxy in a table, coloured by its
    redshift) and a colorbar is added.

    Parameters
    ----------
    samples : array-like
        Samples of shape ``(S, D)``.
    labels : sequence of str, optional
        Axis label for each of the ``D`` dimensions.
    truths : array-like, optional
        True values to mark, length ``D``.
    bins : int, optional
        Histogram bins.
    fig : `~matplotlib.figure.Figure`, optional
        Figure to draw into, so that several posteriors can be overlaid.
    color : str, optional
        Colour of the histograms and contours, and of the points when
        ``color_by`` is not given.
    color_by : array-like, optional
        One value per sample, length ``S``, that colours the points through
        ``cmap``; a colorbar labelled ``color_label`` is drawn beside the
        panels. A `~astropy.units.Quantity` is plotted in its own unit.
    color_label : str, optional
        Label of the colorbar, used only with ``color_by``.
    cmap : str or `~matplotlib.colors.Colormap`, optional
        Colormap for ``color_by``.
    vmin, vmax : float, optional
        Range of ``color_by`` that the colormap spans; by default the range
        of the finite values.
    contours : bool, optional
        Draw the contours enclosing 68% and 95% of the samples in each
        panel below the diagonal. A scatter matrix of a few hundred
        catalogue rows usually reads better without them.

    Returns
    -------
    fig : `~matplotlib.figure.Figure`

    Examples
    --------
    >>> import numpy as np
    >>> from minuet.visualization import corner_plot
    >>> rng = np.random.default_rng(0)
    >>> fig = corner_plot(rng.normal(size=(500, 3)), labels=["z", "M", "SFR"])
    >>> len(fig.axes)
    9

    A scatter matrix of five numbers per galaxy, coloured by a sixth:

    >>> values = rng.normal(size=(300, 5))
    >>> fig = corner_plot(values, color_by=values[:, 0] + values[:, 1], contours=False,
    ...                   color_label="sum of the first two")
    >>> len(fig.axes)  # 25 panels and the colorbar
    26
    """
    import matplotlib.pyplot as plt

    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 2:
        msg = f"corner_plot expects samples of shape (S, D); got shape {samples.shape}."
        raise ValueError(msg)
    ndim = samples.shape[1]
    if color_by is not None:
        color_by = np.asarray(getattr(color_by, "value", color_by), dtype=float)
        if color_by.shape != (samples.shape[0],):
            msg = (f"corner_plot expects color_by to hold one value per sample, shape "
                   f"({samples.shape[0]},); got shape {color_by.shape}. Pass one value for "
                   "each row of samples.")
            raise ValueError(msg)
        finite = color_by[np.isfinite(color_by)]
        if finite.size == 0:
            msg = "corner_plot got no finite value in color_by; pass numbers to colour by."
            raise ValueError(msg)
        vmin = finite.min() if vmin is None else vmin
        vmax = finite.max() if vmax is None else vmax
    if fig is None:
        fig, _ = plt.subplots(ndim, ndim, figsize=(2.2 * ndim, 2.2 * ndim), layout="constrained")
    axes = np.asarray(fig.axes).reshape(ndim, ndim)
    lo, hi = np.percentile(samples, [0.5, 99.5], axis=0)
    for i in range(ndim):
        for j in range(ndim):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            if i == j:
                ax.hist(samples[:, i], bins=bins, range=(lo[i], hi[i]), histtype="step",
                        color=color)
                ax.set_yticks([])
                if truths is not None:
                    ax.axvline(truths[i], color="tab:blue")
            else:
                hist, xe, ye = np.histogram2d(samples[:, j], samples[:, i], bins=bins // 2,
                                              range=[(lo[j], hi[j]), (lo[i], hi[i])])
                levels = _credible_levels(hist, (0.95, 0.68))
                if contours and np.all(np.diff(levels) > 0):
                    ax.contour(0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1]), hist.T,
                               levels=levels, colors=color, linewidths=1)
                if color_by is None:
                    ax.plot(samples[:, j], samples[:, i], ",", color=color, alpha=0.2)
                else:
                    points = ax.scatter(samples[:, j], samples[:, i], c=color_by, s=4,
                                        cmap=cmap, vmin=vmin, vmax=vmax, linewidths=0)
                ax.set_xlim(lo[j], hi[j])
                ax.set_ylim(lo[i], hi[i])
                if truths is not None:
                    ax.axvline(truths[j], color="tab:blue")
                    ax.axhline(truths[i], color="tab:blue")
                    ax.plot(truths[j], truths[i], "s", color="tab:blue")
            # a column shares its x range and a row its y range: number the outer axes only
            if i < ndim - 1:
                ax.tick_params(labelbottom=False)
            if j > 0 and i != j:
                ax.tick_params(labelleft=False)
            if labels is not None:
                if i == ndim - 1:
                    ax.set_xlabel(labels[j])
                if j == 0 and i > 0:
                    ax.set_ylabel(labels[i])
    if color_by is not None and ndim > 1:
        fig.colorbar(points, ax=axes.ravel().tolist(), shrink=0.6, label=color_label)
    return fig


def _credible_levels(hist, fractions):
    """Histogram heights enclosing the given fractions of the mass, ascending."""
    flat = np.sort(hist.ravel())[::-1]
    cumulative = np.cumsum(flat) / max(flat.sum(), 1)
    return [flat[min(np.searchsorted(cumulative, f), flat.size - 1)] for f in fractions]

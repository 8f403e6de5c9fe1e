r"""Diffusion formulations: the training loss and the sampler around a denoiser.

Two formulations share one interface (``loss`` and ``sample``):

* :class:`EDM`, the preconditioned formulation of Karras et al. (2022,
  NeurIPS, arXiv:2206.00364) built for few sampler steps;
* :class:`DDPM`, the discrete-time formulation of Ho et al. (2020, NeurIPS,
  arXiv:2006.11239) with DDIM sampling (Song et al. 2021, ICLR,
  arXiv:2010.02502), as used by Gagliano, Shen & Villar (2025,
  arXiv:2512.04145).
"""

from dataclasses import dataclass

import torch

from .._config import JSONConfig

__all__ = ["DDPM", "EDM", "DiffusionConfig", "build_diffusion"]


@dataclass
class DiffusionConfig(JSONConfig):
    """Configuration of the diffusion formulation and its default sampler.

    Parameters
    ----------
    kind : {'edm', 'ddpm'}
        Formulation.
    sigma_data : float
        EDM: standard deviation of the (stretched) training images.
    p_mean, p_std : float
        EDM: training noise levels are log-normal, ``ln sigma ~ N(p_mean, p_std**2)``.
    sigma_min, sigma_max, rho : float
        EDM: the sampler's noise levels run from ``sigma_max`` to ``sigma_min``
        spaced uniformly in ``sigma**(1/rho)``.
    timesteps, beta_start, beta_end : int, float, float
        DDPM: number of steps and the linear variance schedule.
    sampler : {'heun', 'dpmpp2m', 'euler', 'ddim'}
        Default sampler; ``'ddim'`` is the only DDPM sampler.
    steps : int
        Default number of sampler steps.

    Examples
    --------
    >>> from minuet.models import DiffusionConfig
    >>> config = DiffusionConfig(sampler="heun", steps=18)
    >>> DiffusionConfig.from_json(config.to_json()) == config
    True
    >>> DiffusionConfig(kind="ddpm", sampler="ddim").timesteps
    1000
    """

    kind: str = "edm"
    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    timesteps: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    sampler: str = "dpmpp2m"
    steps: int = 10

    def __post_init__(self):
        samplers = {"edm": ("heun", "dpmpp2m", "euler"), "ddpm": ("ddim",)}
        if self.kind not in samplers:
            msg = f"kind must be 'edm' or 'ddpm'; got {self.kind!r}."
            raise ValueError(msg)
        if self.sampler not in samplers[self.kind]:
            msg = (
                f"sampler {self.sampler!r} does not belong to the {self.kind!r} formulation; "
                f"choose one of {samplers[self.kind]}."
            )
            raise ValueError(msg)


def build_diffusion(config):
    """Return the :class:`EDM` or :class:`DDPM` object described by ``config``.

    Parameters
    ----------
    config : `DiffusionConfig`
        The formulation; ``config.kind`` chooses the class.

    Returns
    -------
    diffusion : `EDM` or `DDPM`

    Examples
    --------
    >>> from minuet.models import DiffusionConfig, build_diffusion
    >>> build_diffusion(DiffusionConfig())  # doctest: +ELLIPSIS
    <minuet.models.diffusion.EDM object at ...>
    >>> type(build_diffusion(DiffusionConfig(kind="ddpm", sampler="ddim"))).__name__
    'DDPM'
    """
    return EDM(config) if config.kind == "edm" else DDPM(config)


def _weighted_mse(pred, target, weight):
    err = (pred - target) ** 2
    if weight is None:
        return err.mean(dim=(1, 2, 3))
    return (weight * err).sum(dim=(1, 2, 3)) / weight.sum(dim=(1, 2, 3)).clamp_min(1e-8)


def _check_steps(steps):
    if int(steps) != steps or steps < 1:
        msg = f"steps must be a positive integer; got {steps!r}."
        raise ValueError(msg)
    return int(steps)


class EDM:
    r"""EDM preconditioning, training loss and samplers (Karras et al. 2022).

    The denoiser :math:`D(x; \sigma) = c_\mathrm{skip} x + c_\mathrm{out}
    F(c_\mathrm{in} x, c_\mathrm{noise})` wraps the network :math:`F` with

    .. math::

        c_\mathrm{skip} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\quad
        c_\mathrm{out} = \frac{\sigma \sigma_d}{\sqrt{\sigma^2 + \sigma_d^2}},

        c_\mathrm{in} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},\quad
        c_\mathrm{noise} = \tfrac{1}{4}\ln\sigma .

    Parameters
    ----------
    config : `DiffusionConfig`
        Formulation parameters (``kind='edm'``).

    Examples
    --------
    >>> import torch
    >>> from minuet.models import EDM, DiffusionConfig
    >>> edm = EDM(DiffusionConfig())
    >>> edm.sigmas(4).round(decimals=3)
    tensor([8.0000e+01, 9.7230e+00, 4.7000e-01, 2.0000e-03, 0.0000e+00])
    """

    def __init__(self, config):
        self.config = config

    def denoise(self, net, x, sigma, latent):
        r"""Return :math:`D(x; \sigma)`, the estimate of the clean image.

        Parameters
        ----------
        net : `torch.nn.Module`
            The network :math:`F`.
        x : `torch.Tensor`
            Noisy images, ``(B, C, H, W)``.
        sigma : `torch.Tensor`
            Noise level of each image, ``(B,)``.
        latent : `torch.Tensor`
            Latents, ``(B, latent_dim)``.

        Returns
        -------
        denoised : `torch.Tensor`
            Same shape as ``x``, float32.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import Denoiser, DenoiserConfig, DiffusionConfig, EDM
        >>> net = Denoiser(DenoiserConfig(image_size=24, width=16, depth=1, heads=2))
        >>> edm = EDM(DiffusionConfig())
        >>> edm.denoise(net, torch.zeros(2, 3, 24, 24), torch.ones(2), torch.zeros(2, 5)).shape
        torch.Size([2, 3, 24, 24])
        """
        sd = self.config.sigma_data
        sigma = sigma.reshape(-1, 1, 1, 1).to(torch.float32)
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1 / (sigma**2 + sd**2).sqrt()
        # 1000 c_noise keeps the sinusoidal embedding's frequencies well resolved
        c_noise = 250 * sigma.log().flatten()
        out = net(c_in * x, c_noise, latent).to(torch.float32)
        return c_skip * x + c_out * out

    def loss(self, net, x0, latent, *, weight=None, generator=None):
        r"""Per-image weighted denoising loss, shape ``(B,)``.

        Noise levels are drawn log-normally and every image's loss is scaled
        by :math:`\lambda(\sigma) = (\sigma^2 + \sigma_d^2) / (\sigma\sigma_d)^2`,
        so all noise levels contribute equally at initialisation.

        Parameters
        ----------
        net : `torch.nn.Module`
            The network :math:`F`.
        x0 : `torch.Tensor`
            Clean stretched images, ``(B, C, H, W)``.
        latent : `torch.Tensor`
            Latents, ``(B, latent_dim)``.
        weight : `torch.Tensor`, optional
            Non-negative per-pixel weights shaped like ``x0``.
        generator : `torch.Generator`, optional
            Seeded generator for the noise levels and the noise.

        Returns
        -------
        loss : `torch.Tensor`
            Shape ``(B,)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import Denoiser, DenoiserConfig, DiffusionConfig, EDM
        >>> net = Denoiser(DenoiserConfig(image_size=24, width=16, depth=1, heads=2))
        >>> edm = EDM(DiffusionConfig())
        >>> gen = torch.Generator().manual_seed(0)
        >>> edm.loss(net, torch.zeros(2, 3, 24, 24), torch.zeros(2, 5), generator=gen).shape
        torch.Size([2])
        """
        c = self.config
        b = x0.shape[0]
        ln_sigma = torch.randn(b, generator=generator, device=x0.device) * c.p_std + c.p_mean
        sigma = ln_sigma.exp()
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        x = x0 + sigma.reshape(-1, 1, 1, 1) * noise
        lam = (sigma**2 + c.sigma_data**2) / (sigma * c.sigma_data) ** 2
        return lam * _weighted_mse(self.denoise(net, x, sigma, latent), x0, weight)

    def sigmas(self, steps):
        """The sampler's ``steps + 1`` noise levels, ending at zero.

        Parameters
        ----------
        steps : int
            Number of sampler steps.

        Returns
        -------
        sigmas : `torch.Tensor`
            Shape ``(steps + 1,)``, float32, decreasing from ``sigma_max``.

        Examples
        --------
        See the class example.
        """
        c = self.config
        steps = _check_steps(steps)
        i = torch.arange(steps, dtype=torch.float64) / max(steps - 1, 1)
        lo, hi = c.sigma_min ** (1 / c.rho), c.sigma_max ** (1 / c.rho)
        s = (hi + i * (lo - hi)) ** c.rho
        return torch.cat([s, torch.zeros(1, dtype=torch.float64)]).to(torch.float32)

    @torch.no_grad()
    def sample(self, net, latent, shape, *, steps=None, sampler=None, generator=None):
        """Draw one image per latent, starting from Gaussian noise.

        Parameters
        ----------
        net : `torch.nn.Module`
            The network :math:`F`.
        latent : `torch.Tensor`
            Latents, ``(B, latent_dim)``.
        shape : tuple of int
            Image shape ``(C, H, W)``.
        steps : int, optional
            Number of noise levels; network evaluations are ``steps`` for
            ``'euler'`` and ``'dpmpp2m'`` and ``2 * steps - 1`` for ``'heun'``.
        sampler : {'heun', 'dpmpp2m', 'euler'}, optional
            Deterministic Heun (Karras et al. 2022, Algorithm 1), the
            multistep DPM-Solver++(2M) (Lu et al. 2022, arXiv:2211.01095) or
            first-order Euler (equivalent to DDIM).
        generator : `torch.Generator`, optional
            Seeded generator for the initial noise; fresh noise when omitted.

        Returns
        -------
        x : `torch.Tensor`
            Images, ``(B, *shape)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import Denoiser, DenoiserConfig, DiffusionConfig, EDM
        >>> net = Denoiser(DenoiserConfig(image_size=24, width=16, depth=1, heads=2))
        >>> edm = EDM(DiffusionConfig())
        >>> gen = torch.Generator().manual_seed(0)
        >>> edm.sample(net, torch.zeros(2, 5), (3, 24, 24), steps=2, generator=gen).shape
        torch.Size([2, 3, 24, 24])
        """
        steps = self.config.steps if steps is None else steps
        sampler = self.config.sampler if sampler is None else sampler
        if sampler not in ("heun", "dpmpp2m", "euler"):
            msg = f"sampler must be 'heun', 'dpmpp2m' or 'euler'; got {sampler!r}."
            raise ValueError(msg)
        sigmas = self.sigmas(steps).to(latent.device)
        b = latent.shape[0]
        x = sigmas[0] * torch.randn(
            (b, *shape), generator=generator, device=latent.device, dtype=torch.float32
        )
        previous = None
        for i in range(steps):
            s, s_next = sigmas[i], sigmas[i + 1]
            denoised = self.denoise(net, x, s.expand(b), latent)
            if sampler == "dpmpp2m" and previous is not None and s_next > 0:
                h = (s / s_next).log()
                h_last = (sigmas[i - 1] / s).log()
                r = h_last / h
                denoised_2 = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * previous
                x = (s_next / s) * x + (1 - s_next / s) * denoised_2
            elif sampler == "heun" and s_next > 0:
                d = (x - denoised) / s
                x_euler = x + (s_next - s) * d
                d_next = (x_euler - self.denoise(net, x_euler, s_next.expand(b), latent)) / s_next
                x = x + (s_next - s) * (d + d_next) / 2
            else:
                x = (s_next / s) * x + (1 - s_next / s) * denoised
            previous = denoised
        return x


class DDPM:
    r"""Discrete-time DDPM with epsilon prediction and DDIM sampling.

    With a linear variance schedule :math:`\beta_t` and
    :math:`\bar\alpha_t = \prod_{s \le t} (1 - \beta_s)`, a noisy image is
    :math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon`
    and the network predicts :math:`\epsilon` (Ho et al. 2020).

    Parameters
    ----------
    config : `DiffusionConfig`
        Formulation parameters (``kind='ddpm'``).

    Examples
    --------
    >>> from minuet.models import DDPM, DiffusionConfig
    >>> ddpm = DDPM(DiffusionConfig(kind="ddpm", sampler="ddim", steps=200))
    >>> ddpm.alpha_bar.shape
    torch.Size([1000])
    """

    def __init__(self, config):
        self.config = c = config
        betas = torch.linspace(c.beta_start, c.beta_end, c.timesteps, dtype=torch.float64)
        self.alpha_bar = torch.cumprod(1 - betas, 0).to(torch.float32)

    def loss(self, net, x0, latent, *, weight=None, generator=None):
        """Per-image weighted epsilon-prediction loss, shape ``(B,)``.

        Parameters
        ----------
        net, x0, latent, weight, generator
            As for `EDM.loss`; the generator also draws the timesteps.

        Returns
        -------
        loss : `torch.Tensor`
            Shape ``(B,)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import Denoiser, DenoiserConfig, DiffusionConfig, DDPM
        >>> net = Denoiser(DenoiserConfig(image_size=24, width=16, depth=1, heads=2))
        >>> ddpm = DDPM(DiffusionConfig(kind="ddpm", sampler="ddim"))
        >>> gen = torch.Generator().manual_seed(0)
        >>> ddpm.loss(net, torch.zeros(2, 3, 24, 24), torch.zeros(2, 5), generator=gen).shape
        torch.Size([2])
        """
        b = x0.shape[0]
        t = torch.randint(0, self.config.timesteps, (b,), generator=generator, device=x0.device)
        ab = self.alpha_bar.to(x0.device)[t].reshape(-1, 1, 1, 1)
        noise = torch.randn(x0.shape, generator=generator, device=x0.device)
        x = ab.sqrt() * x0 + (1 - ab).sqrt() * noise
        pred = net(x, t.to(torch.float32), latent).to(torch.float32)
        return _weighted_mse(pred, noise, weight)

    @torch.no_grad()
    def sample(self, net, latent, shape, *, steps=None, sampler=None, generator=None):
        """Deterministic DDIM sampling with ``steps`` evenly spaced timesteps.

        Parameters
        ----------
        net, latent, shape, steps, generator
            As for `EDM.sample`.
        sampler : {'ddim'}, optional
            The only sampler of this formulation.

        Returns
        -------
        x : `torch.Tensor`
            Images, ``(B, *shape)``.

        Examples
        --------
        >>> import torch
        >>> from minuet.models import Denoiser, DenoiserConfig, DiffusionConfig, DDPM
        >>> net = Denoiser(DenoiserConfig(image_size=24, width=16, depth=1, heads=2))
        >>> ddpm = DDPM(DiffusionConfig(kind="ddpm", sampler="ddim"))
        >>> gen = torch.Generator().manual_seed(0)
        >>> ddpm.sample(net, torch.zeros(2, 5), (3, 24, 24), steps=2, generator=gen).shape
        torch.Size([2, 3, 24, 24])
        """
        steps = _check_steps(self.config.steps if steps is None else steps)
        if sampler not in (None, "ddim"):
            msg = f"the DDPM formulation samples with 'ddim' only; got {sampler!r}."
            raise ValueError(msg)
        device = latent.device
        ab = self.alpha_bar.to(device)
        ts = torch.linspace(self.config.timesteps - 1, 0, steps, device=device).round().long()
        b = latent.shape[0]
        x = torch.randn((b, *shape), generator=generator, device=device, dtype=torch.float32)
        for i, t in enumerate(ts):
            a_t = ab[t]
            a_prev = ab[ts[i + 1]] if i + 1 < steps else torch.ones((), device=device)
            eps = net(x, t.to(torch.float32).expand(b), latent).to(torch.float32)
            x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
        return x

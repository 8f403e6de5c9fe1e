"""Configuration of a training run."""

from dataclasses import dataclass, field

from .._config import JSONConfig, renamed_fields
from ..models import DiffusionAutoencoderConfig

__all__ = ["TrainingConfig"]


@renamed_fields(lr="learning_rate", lr_schedule="learning_rate_schedule",
                min_lr_fraction="min_learning_rate_fraction")
@dataclass
class TrainingConfig(JSONConfig):
    """Everything that defines a training run; round-trips through JSON.

    Parameters
    ----------
    data : tuple of str
        HDF5 files of cutouts (see `~minuet.training.CutoutFile`); their
        images are concatenated in order.
    output : str
        Run folder: checkpoint, final weights and ``history.jsonl``.
    model : `~minuet.models.DiffusionAutoencoderConfig`
        The model (``DiffusionAutoencoderConfig.preset(...)`` for the presets).
    steps : int
        Total optimiser steps.
    batch_size : int
        Global batch size, split evenly over the processes of a distributed run.
    learning_rate, weight_decay, warmup_steps, grad_clip : float, float, int, float
        AdamW learning rate (linear warm-up), weight decay and gradient-norm clip.
    learning_rate_schedule : {'constant', 'cosine'}
        After the warm-up, keep ``learning_rate`` or follow a half cosine
        from ``learning_rate`` at the end of the warm-up down to
        ``min_learning_rate_fraction * learning_rate`` at ``steps``
        (Loshchilov & Hutter 2017, ICLR, arXiv:1608.03983, without restarts).
    min_learning_rate_fraction : float
        Final learning rate of the cosine schedule, as a fraction of
        ``learning_rate``.
    ema_decay : float
        Decay of the exponential moving average of the weights.
    seed : int
        Seed of the split, the data order, the augmentations and the noise.
    validation_fraction : float
        Held-out fraction of the images.
    validation_size : int
        At most this many held-out images enter each validation.
    validate_every, checkpoint_every, log_every : int
        Intervals, in steps.
    precision : {'auto', 'bf16', 'fp32'}
        ``'auto'``: bf16 autocast where the device computes bf16 natively
        (see `minuet.models.resolve_precision`), fp32 elsewhere.
    device : str
        ``'auto'`` picks CUDA when available (``cuda:LOCAL_RANK`` under torchrun).
    threads : int
        CPU threads per process; 0 keeps torch's default.
    rotation_probability : float
        Probability of an arbitrary-angle rotation after the random flip and
        quarter turn applied to every training image.
    consistency_weight : float
        Weight of the loss that asks two differently oriented views of a
        galaxy for the same latent (0 disables the second view).
    footprint_weight : float
        Loss weight of footprint pixels; background pixels weigh ``1 - footprint_weight``.
    decorrelation_weight : float
        Weight of a penalty on the squared correlation coefficients between
        different latent dimensions within each batch, which discourages two
        of the few dimensions from carrying the same information (the
        redundancy-reduction term of Zbontar et al. 2021, ICML,
        arXiv:2103.03230, applied to one view); 0 disables it.
    workers : int
        Background processes that read, stretch and weight upcoming batches
        while the model trains (a `torch.utils.data.DataLoader`); 0 reads
        each batch in the training process. The batches do not depend on it,
        so a run resumes exactly with any number of workers.
    prefetch : int
        Batches each worker prepares ahead.
    in_memory : bool
        Read the data files into memory once.
    init : str
        Weights (`~minuet.models.save_model` output) to start from when no
        checkpoint is resumed; parameters the file lacks keep their
        initialisation (e.g. a refinement head added to a trained model).
        Weights of a denoiser without overlapping windows start a model
        whose denoiser has them (same patch size): each window's centre
        starts as the old patch.

    Examples
    --------
    Fine-tuning the bundled model's architecture from its weights; the JSON
    text is what ``minuet train config.json`` reads:

    >>> from minuet.models import DiffusionAutoencoderConfig
    >>> from minuet.training import TrainingConfig
    >>> config = TrainingConfig(
    ...     data=("my_cutouts.h5",), output="finetune-run",
    ...     model=DiffusionAutoencoderConfig.preset("default"),
    ...     init="minuet/data/minuet-sim-2/autoencoder.safetensors",
    ...     steps=20_000, learning_rate=5e-5)
    >>> TrainingConfig.from_json(config.to_json()) == config
    True
    """

    data: tuple = ()
    output: str = "minuet-run"
    model: DiffusionAutoencoderConfig = field(
        default_factory=lambda: DiffusionAutoencoderConfig.preset("default")
    )
    steps: int = 100_000
    batch_size: int = 128
    learning_rate: float = 3e-4
    weight_decay: float = 0.0
    warmup_steps: int = 500
    learning_rate_schedule: str = "constant"
    min_learning_rate_fraction: float = 0.1
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    validation_fraction: float = 0.05
    validation_size: int = 512
    validate_every: int = 1000
    checkpoint_every: int = 500
    log_every: int = 50
    precision: str = "auto"
    device: str = "auto"
    threads: int = 0
    rotation_probability: float = 0.5
    consistency_weight: float = 0.1
    footprint_weight: float = 0.9
    decorrelation_weight: float = 0.0
    in_memory: bool = True
    workers: int = 0
    prefetch: int = 2
    init: str = ""

    def __post_init__(self):
        if isinstance(self.data, str):
            self.data = (self.data,)
        if self.precision not in ("auto", "bf16", "fp32"):
            msg = f"precision must be 'auto', 'bf16' or 'fp32'; got {self.precision!r}."
            raise ValueError(msg)
        for name in ("steps", "batch_size", "validate_every", "checkpoint_every", "log_every"):
            if int(getattr(self, name)) < 1:
                msg = f"{name} must be a positive integer; got {getattr(self, name)!r}."
                raise ValueError(msg)
        if self.learning_rate_schedule not in ("constant", "cosine"):
            msg = (
                "learning_rate_schedule must be 'constant' or 'cosine'; got "
                f"{self.learning_rate_schedule!r}."
            )
            raise ValueError(msg)
        if not 0 <= self.min_learning_rate_fraction <= 1:
            msg = (
                "min_learning_rate_fraction must lie in [0, 1]; got "
                f"{self.min_learning_rate_fraction!r}."
            )
            raise ValueError(msg)
        for name in ("workers", "decorrelation_weight"):
            if getattr(self, name) < 0:
                msg = f"{name} must not be negative; got {getattr(self, name)!r}."
                raise ValueError(msg)
        if int(self.prefetch) < 1:
            msg = f"prefetch must be a positive integer; got {self.prefetch!r}."
            raise ValueError(msg)
        if not 0 <= self.footprint_weight <= 1:
            msg = f"footprint_weight must lie in [0, 1]; got {self.footprint_weight!r}."
            raise ValueError(msg)

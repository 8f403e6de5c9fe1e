"""Arithmetic precision of inference: bf16 autocast where the hardware has it.

``precision='auto'`` runs the networks under bf16 autocast
(`torch.autocast`) where the processor multiplies bf16 natively: x86 CPUs
with AVX512-BF16 or AMX-BF16, Arm CPUs with the BF16 extension, and CUDA
GPUs that support bf16 (compute capability 8.0 and later). Elsewhere it runs
in fp32, because bf16 emulated in software is slower than fp32.
"""

import contextlib
import copy
import functools
import platform
import subprocess
import weakref

import torch

__all__ = ["PRECISIONS", "autocast", "cached_inference_copy", "compiled_network",
           "cpu_has_native_bf16", "cpu_matrix_extensions", "inference_copy",
           "resolve_precision"]

#: Values accepted by every ``precision`` option.
PRECISIONS = ("auto", "bf16", "fp32")

_X86_FLAGS = ("avx512_bf16", "amx_bf16", "amx_tile")


def _linux_cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                # x86 names them "flags", Arm "Features"
                if line.startswith(("flags", "Features")):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _macos_has_bf16():
    try:
        out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True,
                             text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return False
    return out == "1"


@functools.cache
def cpu_matrix_extensions():
    """The bf16 instruction-set extensions this CPU reports.

    Returns
    -------
    extensions : tuple of str
        A subset of ``('avx512_bf16', 'amx_bf16', 'amx_tile')`` on x86,
        ``('bf16',)`` on Arm; empty where none is reported or the platform
        cannot be queried.

    Examples
    --------
    >>> from minuet.models import cpu_matrix_extensions
    >>> set(cpu_matrix_extensions()) <= {"avx512_bf16", "amx_bf16", "amx_tile", "bf16"}
    True
    """
    system = platform.system()
    if system == "Darwin":
        return ("bf16",) if _macos_has_bf16() else ()
    flags = _linux_cpu_flags() if system == "Linux" else set()
    found = tuple(name for name in _X86_FLAGS if name in flags)
    if "bf16" in flags:  # Arm FEAT_BF16
        found += ("bf16",)
    return found


def cpu_has_native_bf16():
    """Whether this CPU multiplies bf16 natively (AVX512-BF16, AMX-BF16 or Arm BF16).

    Returns
    -------
    native : bool

    Examples
    --------
    >>> from minuet.models import cpu_has_native_bf16
    >>> isinstance(cpu_has_native_bf16(), bool)
    True
    """
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & set(cpu_matrix_extensions()))


def resolve_precision(precision="auto", device="cpu"):
    """Return the precision ``'bf16'`` or ``'fp32'`` that a ``precision`` option means.

    Parameters
    ----------
    precision : {'auto', 'bf16', 'fp32'}
        ``'auto'``: bf16 where ``device`` computes it natively (see
        `cpu_has_native_bf16`; on CUDA, `torch.cuda.is_bf16_supported`),
        fp32 elsewhere.
    device : str or `torch.device`, optional
        Where the networks run.

    Returns
    -------
    precision : {'bf16', 'fp32'}

    Raises
    ------
    ValueError
        If ``precision`` is not one of `PRECISIONS`.

    Examples
    --------
    >>> from minuet.models import resolve_precision
    >>> resolve_precision("fp32"), resolve_precision("bf16")
    ('fp32', 'bf16')
    >>> resolve_precision("auto") in ("bf16", "fp32")
    True
    """
    if precision not in PRECISIONS:
        msg = (
            f"precision must be one of {PRECISIONS}; got {precision!r}. 'auto' uses bf16 "
            "where the hardware computes it natively and fp32 elsewhere."
        )
        raise ValueError(msg)
    if precision != "auto":
        return precision
    device = torch.device(device)
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def autocast(precision="auto", device="cpu"):
    """A context in which the networks compute at the given precision.

    Parameters
    ----------
    precision : {'auto', 'bf16', 'fp32'}
        As for `resolve_precision`.
    device : str or `torch.device`, optional
        Where the networks run.

    Returns
    -------
    context : context manager
        `torch.autocast` with ``dtype=torch.bfloat16`` for bf16, a
        context that does nothing for fp32.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import autocast
    >>> layer = torch.nn.Linear(4, 2)
    >>> with autocast("bf16"):
    ...     layer(torch.zeros(1, 4)).dtype
    torch.bfloat16
    >>> with autocast("fp32"):
    ...     layer(torch.zeros(1, 4)).dtype
    torch.float32
    """
    device = torch.device(device)
    if resolve_precision(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def inference_copy(module, dtype=torch.bfloat16):
    """A frozen copy of a network with its weights stored in ``dtype``.

    Under `torch.autocast` every matrix product casts its fp32 weights and
    the fp32 output of the layer norm before it, on every call; in the
    encoder those casts took a quarter of the time. The copy holds its
    weights in ``dtype`` once, and its attention layers concatenate their
    projections once (``Attention.fuse``), so it runs with no per-call
    casts. Give it inputs of ``dtype`` and run it outside autocast; layer
    norms and attention accumulate in fp32 inside PyTorch's bf16 kernels.
    On the CPU its attention runs as two batched matrix products in cache-
    sized chunks, with the exponentials of the scores normalised after the
    second product rather than by a softmax pass over every score
    (``minuet.models._layers._cpu_attention``), and its linear layers add
    their bias, GELU or residual inside oneDNN's matrix product where this
    PyTorch has the operator (``minuet.models._layers.epilogue_linear``).
    For the bundled encoder's bf16 copy on two cores the two took a batch
    of 256 from about 1,550 to 1,850 galaxies/s.

    In a bf16 copy the tanh approximation of GELU (Hendrycks & Gimpel
    2016, arXiv:1606.08415) is replaced by the exact GELU that it
    approximates: PyTorch's CPU kernel for the tanh form is several times
    slower than the one for the exact form, and the two differ by at most
    4.7e-4, a sixteenth of bf16's rounding step at 1.

    Parameters
    ----------
    module : `torch.nn.Module`
        The network; it is not changed.
    dtype : `torch.dtype`, optional
        Storage and arithmetic type of the copy.

    Returns
    -------
    copy : `torch.nn.Module`
        In evaluation mode, without gradients.

    See Also
    --------
    cached_inference_copy : the same copy, made once per set of weights.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import Encoder, EncoderConfig, inference_copy
    >>> encoder = Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2))
    >>> fast = inference_copy(encoder)
    >>> with torch.no_grad():
    ...     z = fast(torch.zeros(2, 3, 24, 24, dtype=torch.bfloat16))
    >>> z.dtype, encoder.embed.weight.dtype
    (torch.bfloat16, torch.float32)
    """
    from ._layers import Attention

    with torch.no_grad():
        frozen = copy.deepcopy(module).eval().requires_grad_(False)
        for layer in frozen.modules():
            if isinstance(layer, Attention):
                layer.fuse(dtype)  # from the original weights, rounded once
        frozen = frozen.to(dtype)
        if dtype == torch.bfloat16:
            for layer in frozen.modules():
                for name, child in layer.named_children():
                    if isinstance(child, torch.nn.GELU) and child.approximate == "tanh":
                        setattr(layer, name, torch.nn.GELU())
    return frozen


#: module -> (snapshot of its weights, dtype, frozen copy), dropped with the module
_COPIES = weakref.WeakKeyDictionary()


def _weights(module):
    return [t.detach() for t in (*module.parameters(), *module.buffers())]


def cached_inference_copy(module, dtype=torch.bfloat16):
    """`inference_copy` of ``module``, made again only when its weights change.

    Making the copy of the bundled encoder takes 10-30 ms, a tenth of the
    time that encoding a chunk of 256 galaxies in bf16 takes, so a
    streamed catalogue that encodes chunk after chunk reuses one copy. The
    cache keeps a snapshot of the weights that the copy was made from and
    compares it, value for value, with the module's weights on every call
    (a millisecond for the bundled encoder): a training step,
    `~torch.nn.Module.load_state_dict` or any in-place edit makes a new
    copy. The entry goes when the module is garbage-collected.

    Parameters
    ----------
    module : `torch.nn.Module`
        The network; it is not changed.
    dtype : `torch.dtype`, optional
        Storage and arithmetic type of the copy.

    Returns
    -------
    copy : `torch.nn.Module`
        Shared between calls: do not modify it.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import Encoder, EncoderConfig, cached_inference_copy
    >>> encoder = Encoder(EncoderConfig(image_size=24, width=32, depth=1, heads=2))
    >>> cached_inference_copy(encoder) is cached_inference_copy(encoder)
    True
    >>> with torch.no_grad():
    ...     _ = encoder.head.bias.add_(1.0)
    >>> again = cached_inference_copy(encoder)  # a new copy, with the new bias
    >>> torch.equal(again.head.bias, encoder.head.bias.bfloat16())
    True
    """
    weights = _weights(module)
    entry = _COPIES.get(module)
    if entry is not None:
        snapshot, cached_dtype, frozen = entry
        if cached_dtype == dtype and len(snapshot) == len(weights) and all(
                a.shape == b.shape and a.dtype == b.dtype and a.device == b.device
                and torch.equal(a, b) for a, b in zip(snapshot, weights, strict=True)):
            return frozen
    frozen = inference_copy(module, dtype)
    _COPIES[module] = ([w.clone() for w in weights], dtype, frozen)
    return frozen


#: frozen copy -> (example shape, compiled network or None, why not), dropped with the copy
_COMPILED = weakref.WeakKeyDictionary()


def compiled_network(module, example):
    """`torch.compile` of a frozen network, or the network itself where compiling fails.

    The network is compiled by TorchInductor with its weights frozen into
    the graph as constants (Inductor's ``freezing`` option, set only while
    this call compiles), which lets the compiler pre-pack the weights for
    the CPU's matrix kernels and fuse the layer norms, activations and
    residual additions between them. Compiling takes 10-40 s on two cores
    the first time and a few seconds once Inductor's on-disk cache holds
    the graph, so it pays only for catalogues of tens of thousands of
    cutouts. The compiled network is specialised to the shape of
    ``example``: give it batches of exactly that shape (pad the last one).

    Where compiling fails (no C++ compiler, an unsupported platform or
    version of PyTorch) the network is returned unchanged with the reason,
    so the caller runs eagerly with the same results.

    Parameters
    ----------
    module : `torch.nn.Module`
        A network that will not change, such as an `inference_copy`.
    example : `torch.Tensor`
        An input batch of the shape and dtype that every call will have;
        the network is run on it once, without gradients, to compile it.

    Returns
    -------
    network : callable
        The compiled network, or ``module`` itself.
    why_not : str or None
        Why compiling failed; None when it succeeded.

    Examples
    --------
    >>> import torch
    >>> from minuet.models import Encoder, EncoderConfig, compiled_network, inference_copy
    >>> frozen = inference_copy(Encoder(EncoderConfig(image_size=24, width=32, depth=1,
    ...                                               heads=2)), torch.float32)
    >>> example = torch.zeros(4, 3, 24, 24)
    >>> network, why_not = compiled_network(frozen, example)  # doctest: +SKIP
    >>> network(example).shape  # doctest: +SKIP
    torch.Size([4, 5])
    """
    shape = (tuple(example.shape), example.dtype)
    entry = _COMPILED.get(module)
    if entry is not None and entry[0] == shape:
        return (entry[1] if entry[1] is not None else module), entry[2]
    try:
        from torch._inductor import config as inductor_config

        network = torch.compile(module, dynamic=False)
        with torch.no_grad(), inductor_config.patch(freezing=True):
            network(example)
        why_not = None
    except Exception as error:  # any failure of the compiler means running eagerly
        network, why_not = None, f"{type(error).__name__}: {str(error).strip()[:300]}"
    _COMPILED[module] = (shape, network, why_not)
    return (network if network is not None else module), why_not

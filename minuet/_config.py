"""The JSON round trip of every configuration dataclass of minuet."""

import dataclasses
import json
import warnings
from typing import ClassVar

from astropy.utils.exceptions import AstropyDeprecationWarning

#: The release in which keyword names were renamed to one spelling per idea.
RENAMED_SINCE = "0.1"


def _plain(value):
    """Tuples, nested or not, as JSON lists."""
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def _frozen(value):
    """JSON lists, nested or not, as the tuples a frozen dataclass holds."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _deprecated(cls, old, new):
    warnings.warn(
        f"{cls.__name__}'s {old!r} is now called {new!r}; the old name will be removed in a "
        "future version.",
        AstropyDeprecationWarning,
        stacklevel=3,
    )


def renamed_fields(**renames):
    """Class decorator: fields of a `JSONConfig` dataclass renamed from ``old=new``.

    The old name still works, with an `~astropy.utils.exceptions.AstropyDeprecationWarning`,
    as a constructor keyword and as an attribute; ``from_dict`` and
    ``from_json`` read the old key silently, so that files written before the
    renaming load as they did.

    Examples
    --------
    >>> import warnings
    >>> from dataclasses import dataclass
    >>> from minuet._config import JSONConfig, renamed_fields
    >>> @renamed_fields(lr="learning_rate")
    ... @dataclass
    ... class Fit(JSONConfig):
    ...     learning_rate: float = 1e-3
    >>> Fit.from_dict({"lr": 0.5}).learning_rate
    0.5
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     old = Fit(lr=0.1)
    >>> old.learning_rate, caught[0].category.__name__
    (0.1, 'AstropyDeprecationWarning')
    """

    def decorate(cls):
        init = cls.__init__

        def __init__(self, *args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    _deprecated(cls, old, new)
                    if new in kwargs:
                        msg = f"{cls.__name__} got both {old!r} and its new name {new!r}."
                        raise TypeError(msg)
                    kwargs[new] = kwargs.pop(old)
            init(self, *args, **kwargs)

        __init__.__doc__, __init__.__wrapped__ = init.__doc__, init
        cls.__init__ = __init__
        for old, new in renames.items():
            setattr(cls, old, _renamed_property(cls, old, new))
        cls._renamed = {**getattr(cls, "_renamed", {}), **renames}
        return cls

    return decorate


def _renamed_property(cls, old, new):
    def get(self):
        _deprecated(cls, old, new)
        return getattr(self, new)

    def put(self, value):
        _deprecated(cls, old, new)
        setattr(self, new, value)

    return property(get, put, doc=f"Deprecated name of ``{new}``.")


class JSONConfig:
    """Mixin giving a dataclass ``to_dict``/``from_dict``/JSON methods.

    Fields that are themselves `JSONConfig` round-trip as nested
    dictionaries, tuples (nested or not) as lists. Keys of fields renamed
    with `renamed_fields` are read under their old names too.
    """

    _renamed: ClassVar[dict] = {}

    def to_dict(self):
        """Return the configuration as a JSON-serialisable dictionary."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            out[field.name] = value.to_dict() if isinstance(value, JSONConfig) else _plain(value)
        return out

    @classmethod
    def from_dict(cls, config):
        """Build the configuration from the output of ``to_dict``.

        Unknown keys raise a `ValueError` so that typos are not silently
        ignored; missing keys take their defaults.
        """
        fields = {field.name: field for field in dataclasses.fields(cls)}
        clash = sorted(old for old, new in cls._renamed.items() if old in config and new in config)
        if clash:
            msg = f"{cls.__name__} got both the old and the new names of {clash}; keep the new."
            raise ValueError(msg)
        config = {cls._renamed.get(key, key): value for key, value in config.items()}
        unknown = sorted(set(config) - set(fields))
        if unknown:
            msg = (
                f"unknown {cls.__name__} keys {unknown}; expected a subset of "
                f"{sorted(fields)}. Check the spelling in the configuration."
            )
            raise ValueError(msg)
        kwargs = {}
        for name, value in config.items():
            default = (
                fields[name].default_factory
                if fields[name].default_factory is not dataclasses.MISSING
                else None
            )
            if default is not None and isinstance(default(), JSONConfig):
                value = type(default()).from_dict(value)
            kwargs[name] = _frozen(value)
        return cls(**kwargs)

    def to_json(self):
        """Return the configuration as a JSON string."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text):
        """Build the configuration from a JSON string (or the dictionary it decodes to).

        Examples
        --------
        >>> from minuet.posterior import PosteriorConfig
        >>> config = PosteriorConfig.from_json('{"transforms": 2, "hidden_features": [64, 64]}')
        >>> config.transforms, config.hidden_features
        (2, (64, 64))
        >>> PosteriorConfig.from_json(config.to_json()) == config
        True
        """
        return cls.from_dict(json.loads(text) if isinstance(text, str) else dict(text))

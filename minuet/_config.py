"""The JSON round trip of every configuration dataclass of minuet."""

import dataclasses
import json


def _plain(value):
    """Tuples, nested or not, as JSON lists."""
    return [_plain(v) for v in value] if isinstance(value, tuple | list) else value


def _frozen(value):
    """JSON lists, nested or not, as the tuples a frozen dataclass holds."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


class JSONConfig:
    """Mixin giving a dataclass ``to_dict``/``from_dict``/JSON methods.

    Fields that are themselves `JSONConfig` round-trip as nested
    dictionaries, tuples (nested or not) as lists.
    """

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

"""Reading a setting's value from the text a person writes: switches, durations, numbers and
key lists, and ``SettingsError``, the message when a value is not one.

``config.py`` declares the settings and applies these to the environment and its own checks;
the URL options (``?download=``, ``?since=``) read switches and durations with them too.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Any

# An access key shorter than this is refused at start: guessable, and masking it in a log line
# would cut words.
MIN_KEY_CHARS = 16


class SettingsError(ValueError):
    """A setting has a value the program cannot run with."""


_DURATION = re.compile(r"\s*(\d{1,9})\s*([smhdw])\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# No duration this program takes is longer (and datetime arithmetic stays far from overflow).
MAX_DURATION = timedelta(days=100 * 366)


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``24h``, ``7d``, ``2w``: a positive whole number and one unit
    (seconds, minutes, hours, days, weeks), at most 100 years; ``ValueError`` otherwise."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(
            f"{text[:40]!r} is no duration: give a whole number and a unit, "
            "s, m, h, d or w (90s, 15m, 24h, 7d, 2w)"
        )
    duration = timedelta(seconds=int(match[1]) * _UNITS[match[2]])
    if not timedelta(0) < duration <= MAX_DURATION:
        raise ValueError(f"{text[:40]!r} must be more than 0 and at most 100 years")
    return duration


def optional_duration(name: str, raw: str) -> timedelta | None:
    """A duration setting, ``off`` (or another false word) meaning none."""
    if parse_bool(raw) is False:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}: {exc} or off") from None


# The words a switch takes, in the environment and in a URL (``?download=``), lower-cased.
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def key_list(raw: str) -> tuple[str, ...]:
    """A comma-separated list, each key trimmed; nothing at all means no keys (an empty key in
    a list is kept, for ``check_keys`` to refuse)."""
    if raw == "":
        return ()
    return tuple(key.strip() for key in raw.split(","))


def check_keys(keys: tuple[str, ...]) -> None:
    """Refuse an empty key and a short one, naming it by position (never by value)."""
    for number, key in enumerate(keys, 1):
        which = f"STRACT_ACCESS_KEYS (--access-keys): key {number} of {len(keys)}"
        if not key:
            raise SettingsError(f"{which} is empty (a stray comma, or only spaces)")
        if len(key) < MIN_KEY_CHARS:
            raise SettingsError(
                f"{which} has {len(key)} character{'s' * (len(key) > 1)}; a key needs at least "
                f"{MIN_KEY_CHARS} (leave STRACT_ACCESS_KEYS empty to serve without keys)"
            )


def parse_bool(raw: str) -> bool | None:
    """``1/true/yes/on`` -> True, ``0/false/no/off`` (and empty) -> False, else None."""
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS or word == "":
        return False
    return None


def convert(variable: str, raw: str, kind: Any) -> Any:
    """An environment value as its setting's type, or a message a person can act on."""
    if kind in ("int", int):
        try:
            return int(raw.strip())
        except ValueError:
            raise SettingsError(f"{variable} must be a whole number, not {raw!r}") from None
    if kind in ("float", float):
        try:
            number = float(raw.strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise SettingsError(f"{variable} must be a number, not {raw!r}")
        return number
    if kind in ("bool", bool):
        value = parse_bool(raw)
        if value is None:
            raise SettingsError(f"{variable} must be 1 or 0 (true or false), not {raw!r}")
        return value
    if kind in ("tuple[str, ...]", tuple[str, ...]):
        return key_list(raw)
    return raw

"""The range of values a number setting takes (``config`` declares one with each), checked at
start and said in words: "at least 1 and at most 65535"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    """The values a number setting takes: ``low`` (excluded when ``above``) to ``high``."""

    low: float
    high: float
    above: bool = False  # low itself is refused: "more than 0" seconds

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (value > self.low if self.above else value >= self.low) and value <= self.high

    def span(self) -> str:
        """The range in a table: "1–65535", "> 0, ≤ 3600"."""
        if self.above:
            return f"> {number_words(self.low)}, ≤ {number_words(self.high)}"
        return f"{number_words(self.low)}–{number_words(self.high)}"

    def __str__(self) -> str:
        low = "more than" if self.above else "at least"
        return f"{low} {number_words(self.low)} and at most {number_words(self.high)}"


def number_words(value: object) -> str:
    """A number as a person writes it: 20, 0.5, 65535 (anything else as its repr)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return repr(value)
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"

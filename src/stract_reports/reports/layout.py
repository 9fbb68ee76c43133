"""The ad table's columns, decided from the fields alone: ``Platform``, ``Account Name``, then
every field's label, merged case-insensitively with spaces trimmed, in upstream order of first
use (a field labelled like a leading column, or like another field of its platform, is named
"Label (key)"); and per platform, which field fills each column and which ratios it lacks that
each ad gets computed from its own values (Google Analytics' Cost per Click).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..records import Field
from .metrics import DERIVED_PER_AD, label_key

PLATFORM = "Platform"
ACCOUNT = "Account Name"
# A field labelled like one of these first columns keeps its data under "Label (key)".
_LEADING = frozenset({label_key(PLATFORM), label_key(ACCOUNT)})


@dataclass(frozen=True)
class Derived:
    """A column an ad gets computed as numerator / denominator of two of its own fields."""

    column: int
    numerator: int  # columns too
    denominator: int


@dataclass(frozen=True)
class Layout:
    """The ad table's columns, and where each platform's values for them come from."""

    columns: list[str]  # labels: Platform, Account Name, then the fields' labels
    # Per platform, per column: the position of the field that fills it; None where the
    # platform has no such field (and for the two leading columns, which are not fields).
    sources: list[list[int | None]]
    derived: list[list[Derived]]  # per platform: ratios it lacks, computed per ad


def layout(fields: Sequence[Sequence[Field]]) -> Layout:
    """Columns of the ad table of platforms with these fields (each platform's, in order)."""
    columns = [PLATFORM, ACCOUNT]
    column_of: dict[str, int] = {label_key(PLATFORM): 0, label_key(ACCOUNT): 1}
    owns: list[dict[str, int]] = []  # per platform: label key -> position of its field
    for platform_fields in fields:
        own: dict[str, int] = {}
        for position, f in enumerate(platform_fields):
            label = " ".join(f.label.split())
            # Two fields of one platform sharing a label, or a field labelled like a leading
            # column: keep both, the later one named by its key too.
            while label_key(label) in own or label_key(label) in _LEADING:
                label = f"{label} ({f.key})"
            key = label_key(label)
            own[key] = position
            if key not in column_of:
                column_of[key] = len(columns)
                columns.append(label)
        owns.append(own)
    leading: list[int | None] = [None, None]
    sources = [leading + [own.get(label_key(c)) for c in columns[2:]] for own in owns]
    derived = [
        [
            Derived(column_of[name], column_of[r.numerator], column_of[r.denominator])
            for name, r in DERIVED_PER_AD.items()
            if name in column_of and name not in own and r.numerator in own and r.denominator in own
        ]
        for own in owns
    ]
    return Layout(columns, sources, derived)


__all__ = ["ACCOUNT", "PLATFORM", "Derived", "Layout", "layout"]

"""Which columns are ratios, and how to compute them from their components.

Columns are matched by label, compared case-insensitively with spaces trimmed and collapsed
(``label_key``), because keys differ between platforms (GA4's spend is ``cost``).
"""

from __future__ import annotations

from dataclasses import dataclass


def label_key(label: str) -> str:
    """The form under which labels are compared: "Cost per Click " == "cost Per click"."""
    return " ".join(label.split()).casefold()


SPEND, CLICKS, IMPRESSIONS = "spend", "clicks", "impressions"


@dataclass(frozen=True)
class Ratio:
    """A metric that is ``numerator / denominator`` of two other columns (``None``: unknown)."""

    numerator: str | None
    denominator: str | None


# Ratios are never summed in summaries: they are recomputed from summed components, or left
# empty where the data has no components for them.
RATIOS: dict[str, Ratio] = {
    "cost per click": Ratio(SPEND, CLICKS),
    "cpc": Ratio(SPEND, CLICKS),
    "clickthrough rate": Ratio(CLICKS, IMPRESSIONS),
    "click-through rate": Ratio(CLICKS, IMPRESSIONS),
    "ctr": Ratio(CLICKS, IMPRESSIONS),
    "unique ctr": Ratio(None, None),
    "unique clickthrough rate": Ratio(None, None),
}


def ratio_of(label: str) -> Ratio | None:
    """How a column labelled ``label`` is a ratio, or None when it is additive. A compared
    column's relative change ("Spend Δ%") and a ratio's change ("Cost per Click Δ") are
    ratios without components: a total of them means nothing, so totals leave them empty."""
    key = label_key(label)
    found = RATIOS.get(key)
    if found is not None:
        return found
    if key.endswith(" δ%") or (key.endswith(" δ") and key[: -len(" δ")] in RATIOS):
        return Ratio(None, None)
    return None


# Ratios that ad rows get computed from their own values when the platform does not serve them
# (Google Analytics has no Cost per Click).
DERIVED_PER_AD = {"cost per click": Ratio(SPEND, CLICKS)}

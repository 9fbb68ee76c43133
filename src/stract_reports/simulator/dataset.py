"""The data the simulator serves: the real February 2025 captures, or a synthetic set for scale.

What the real dataset (``data/stract-2025-02.json``) holds, and where it comes from:

=====================================  ==========================================================
captured from the live API             the three platforms; every account's id, name and order;
                                       the tokens of meta accounts 1-5, GA4 accounts 1-3 and both
                                       TikTok accounts; the labels and order of meta page-1 fields
                                       and GA4 fields; all 66 insight rows, verbatim
filled in by us (plausible, stable)    tokens of meta accounts 6-11 and GA4 accounts 4-6 (hex,
                                       32 and 33 characters, like the captured ones); names of
                                       GA4 accounts 4-6 ("Giba", "Ricardinho", "Gustavo Endres");
                                       labels and order of meta page-2 fields (Ad Name, Status,
                                       Objective, Country, Unique CTR) and of TikTok's fields
                                       (Ad Name, Impressions, Clicks, Status, Country, Spend,
                                       Cost Per Click)
page sizes                             as captured: meta accounts 5 and meta fields 5 per page,
                                       GA4 accounts 3 per page, everything else unpaginated
=====================================  ==========================================================
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

Row = dict[str, Any]


@dataclass
class SimAccount:
    """One ad account: ``id`` is scoped to its platform; ``token`` guards its insights."""

    id: str
    name: str
    token: str
    insights: list[Row] | None = None


@dataclass
class SimPlatform:
    """One platform with its fields, accounts and the page sizes of each resource.

    A page size of ``None`` serves the resource unpaginated: no ``pagination`` key at all.
    """

    text: str
    value: str
    fields: list[dict[str, str]]
    accounts: list[SimAccount]
    accounts_page_size: int | None = None
    fields_page_size: int | None = None
    insights_page_size: int | None = None
    # Generates an account's insight rows on demand (synthetic data); else ``insights`` is used.
    row_source: Callable[[SimAccount], list[Row]] | None = field(default=None, repr=False)

    def insight_rows(self, account: SimAccount) -> list[Row]:
        """All insight rows of ``account``, with every key the platform knows plus ``id``."""
        if self.row_source is not None:
            return self.row_source(account)
        return account.insights or []


@dataclass
class Dataset:
    """Everything the simulator serves, platforms in upstream order."""

    platforms: list[SimPlatform]

    def platform(self, value: str) -> SimPlatform | None:
        """The platform whose ``value`` is given, or None."""
        for platform in self.platforms:
            if platform.value == value:
                return platform
        return None


def real_dataset() -> Dataset:
    """The captured Stract data of February 2025 (66 ads on three platforms)."""
    text = resources.files(__package__).joinpath("data/stract-2025-02.json").read_text("utf-8")
    raw = json.loads(text)
    platforms = []
    for p in raw["platforms"]:
        accounts = [
            SimAccount(id=a["id"], name=a["name"], token=a["token"], insights=a["insights"])
            for a in p["accounts"]
        ]
        platforms.append(
            SimPlatform(
                text=p["text"],
                value=p["value"],
                fields=p["fields"],
                accounts=accounts,
                accounts_page_size=p["accounts_page_size"],
                fields_page_size=p["fields_page_size"],
                insights_page_size=p["insights_page_size"],
            )
        )
    return Dataset(platforms)


def challenge_text() -> str:
    """The challenge statement that ``GET /api`` answers with."""
    return resources.files(__package__).joinpath("data/challenge.txt").read_text("utf-8")


# Names that stress a CSV writer and a grouper: duplicates, commas, quotes, newlines, formulas.
_AWKWARD_NAMES = [
    "Jorginho",
    "Jorginho",
    'Loja "Central", SP',
    "Conta\nmultilinha",
    '=HYPERLINK("x")',
    "Ação & Reação <b>",
]


def synthetic_dataset(
    accounts_per_platform: int,
    ads_per_account: int,
    *,
    seed: int = 0,
    insights_page_size: int | None = None,
) -> Dataset:
    """Three platforms shaped like the real ones, with generated accounts and ads.

    Deterministic for a given seed. Insight rows are generated when asked for, so a set of
    hundreds of thousands of rows costs no memory until it is served.
    """
    real = real_dataset()
    platforms = []
    for p_index, p in enumerate(real.platforms):
        accounts = []
        for i in range(1, accounts_per_platform + 1):
            rng = random.Random(f"{seed}/{p.value}/{i}")
            if i <= len(_AWKWARD_NAMES):
                name = _AWKWARD_NAMES[i - 1]
            else:
                name = f"Account {rng.randint(1, max(1, accounts_per_platform // 2))}"
            digits = 33 if p.value == "ga4" else 32
            token = f"{rng.getrandbits(4 * digits):0{digits}x}"
            accounts.append(SimAccount(id=str(i), name=name, token=token))
        keys = [f["value"] for f in p.fields]
        platforms.append(
            SimPlatform(
                text=p.text,
                value=p.value,
                fields=p.fields,
                accounts=accounts,
                accounts_page_size=p.accounts_page_size,
                fields_page_size=p.fields_page_size,
                insights_page_size=insights_page_size,
                row_source=_row_generator(keys, ads_per_account, seed, p_index),
            )
        )
    return Dataset(platforms)


def _row_generator(
    keys: Sequence[str], ads: int, seed: int, p_index: int
) -> Callable[[SimAccount], list[Row]]:
    def rows(account: SimAccount) -> list[Row]:
        rng = random.Random(f"{seed}/{p_index}/{account.id}/rows")
        out = []
        for ad in range(1, ads + 1):
            row: Row = {"id": ad}
            for key in keys:
                row[key] = _synthetic_value(key, rng, ad)
            out.append(row)
        return out

    return rows


def _synthetic_value(key: str, rng: random.Random, ad: int) -> Any:
    if key in ("clicks",):
        # Every seventh ad has no clicks: derived Cost per Click must stay empty there.
        return 0 if ad % 7 == 0 else rng.randint(1, 10_000)
    if key == "impressions":
        return rng.randint(0, 10_000)
    if key in ("spend", "cost"):
        return rng.randint(0, 1_000_000) / 100
    if key in ("cpc", "ctr", "ctr_unique", "cost_per_click"):
        return rng.randint(0, 1000) / 1000
    if key in ("ad_name", "adName"):
        return f"Anúncio {rng.randint(1, 30)}" if ad % 11 else 'Anúncio "especial", v2'
    if key in ("country", "region"):
        return rng.choice(("BR", "US", "AR"))
    if key in ("effective_status", "status"):
        return rng.choice(("ACTIVE", "PAUSED"))
    if key == "global_objective":
        return rng.choice(("Conversion", "Lead"))
    return None

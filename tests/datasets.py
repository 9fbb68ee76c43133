"""Small datasets for the simulator that exercise the rules most reports get wrong."""

from __future__ import annotations

from stract_reports.simulator import Dataset, SimAccount, SimPlatform


def fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    """Upstream field records from (label, key) pairs."""
    return [{"text": label, "value": key} for label, key in pairs]


def edge_dataset(*, insights_page_size: int | None = 1) -> Dataset:
    """Duplicate account names, an account without ads, numeric strings, zero clicks, CSV-hostile
    names, booleans, paginated insights, and labels that differ only in case and spacing."""
    alpha = SimPlatform(
        text="Alpha Ads",
        value="alpha",
        fields=fields(
            ("Clicks", "clicks"), ("Spend", "spend"), ("Cost per Click", "cpc"), ("Ad Name", "name")
        ),
        accounts=[
            SimAccount(
                "1",
                "Dup",
                "t-alpha-1",
                [
                    {"id": 1, "clicks": 10, "spend": "5.50", "cpc": 0.55, "name": "a, b"},
                    {"id": 2, "clicks": "0", "spend": 1, "cpc": 0, "name": 'say "hi"'},
                ],
            ),
            SimAccount(
                "2",
                "Dup",
                "t-alpha-2",
                [
                    {"id": 1, "clicks": 5, "spend": 2.25, "cpc": 0.45, "name": "line\nbreak"},
                ],
            ),
            SimAccount("3", "Empty", "t-alpha-3", []),
        ],
        accounts_page_size=1,
        fields_page_size=2,
    )
    beta = SimPlatform(
        text="Beta",
        value="beta",
        fields=fields(("Ad Name", "ad"), ("Clicks", "clicks"), ("Spend", "cost"), ("Status", "on")),
        accounts=[
            SimAccount(
                "1",
                "Dup",
                "t-beta-1",
                [
                    {"id": 1, "ad": "x", "clicks": 0, "cost": 3, "on": True},
                    {"id": 2, "ad": "y", "clicks": 4, "cost": "1.10", "on": False},
                ],
            ),
        ],
        insights_page_size=insights_page_size,
    )
    gamma = SimPlatform(
        text="Gamma",
        value="gamma",
        fields=fields(("clicks", "clicks"), (" Cost Per  Click ", "cpc2")),
        accounts=[SimAccount("1", "Solo", "t-gamma-1", [{"id": 1, "clicks": 2, "cpc2": 1.5}])],
    )
    return Dataset([alpha, beta, gamma])


def one_account(
    account: str,
    ads: list[dict[str, object]],
    *,
    labels: list[tuple[str, str]],
    text: str = "Hostile",
    value: str = "hostile",
) -> Dataset:
    """One platform with one account whose ads are ``ads`` (their ``id`` is added)."""
    rows = [{"id": i, **ad} for i, ad in enumerate(ads, start=1)]
    platform = SimPlatform(
        text=text,
        value=value,
        fields=fields(*labels),
        accounts=[SimAccount("1", account, "t1", rows)],
    )
    return Dataset([platform])

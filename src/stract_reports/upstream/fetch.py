"""Fetch what a report needs, every independent call in parallel, results in upstream order.

What to read and what each body means: the platform list, then per platform its fields and
accounts, then each account's insights, every item checked. The calls go through
``calls.ReportCalls`` (a window at a time, continuations on the calling thread), so no call
waits for one it does not depend on: a platform's insights start as soon as its own accounts
and fields are complete.

Insight pages go to an ``InsightsSink`` the moment each is decoded (a report's ad table being
assembled column-wise: ``reports.ingest``), in whatever order they arrive, so no page outlives
its own turn of the loop; their decimals come as the bytes of their literals, converted a
column at a time. Without a sink, each account's rows are kept in its record, as values in the
order of its platform's fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from ..errors import UnknownPlatform, UpstreamBadPayload
from ..records import (
    Account,
    AccountData,
    Field,
    Platform,
    PlatformData,
    Read,
    Row,
    exact,
    insights_call,
)
from ..redaction import register
from ..scope import Scope
from .calls import FetchLimits, Progress, ReportCalls
from .client import StractClient

# The key of an insight item that holds the ad's own id (never a field, kept as its identity).
AD_ID = "id"


class InsightsSink(Protocol):
    """Where insight pages go as they arrive (``reports.ingest.AdAssembly``)."""

    def platform(
        self,
        position: int,
        platform: Platform,
        fields: list[Field],
        accounts: list[tuple[str, str]],
    ) -> None:
        """A platform's fields and accounts (id, name), once both are known; ``position`` is
        its place in the report."""

    def add(self, platform: int, account: int, page: int, items: list[dict[str, Any]]) -> None:
        """One page (``page`` from 1) of the insights of account ``account`` (its position)
        of the platform at ``platform``: objects, their decimals as literal bytes."""


def fetch_platforms(client: StractClient, limits: FetchLimits) -> list[Platform]:
    """The upstream's platform list, in its order."""
    run = ReportCalls(client, limits, None)
    found: list[Platform] = []
    _read_platforms(run, found.extend)
    run.wait()
    return found


def fetch_report_data(
    client: StractClient,
    platform: str | None,
    limits: FetchLimits,
    *,
    speculate: bool = False,
    progress: Progress | None = None,
    scope: Scope | None = None,
    sink: InsightsSink | None = None,
    vet: Callable[[list[Platform]], None] | None = None,
) -> Read:
    """Fields, accounts and ad rows of one platform (by value), or of all when None, within
    ``limits``, with the whole platform list and the time the read began. ``speculate``: issue
    the calls of the last good report ahead, a window at a time, then check them (``shape``);
    ``progress(done, known)`` is told of every finished call; ``sink``: where the insight pages
    go (then no record keeps rows); ``vet(platforms)`` sees the report's platforms as soon as
    the list is read, and raises to refuse them before anything is asked of them. ``scope``:
    only the platforms and accounts it sees are read (no call is made for the others, so no
    error can name them); the list of accounts of a platform in scope is read whole.

    Raises ``UnknownPlatform`` when ``platform`` is not in the upstream's list (the list within
    ``scope``), and an ``UpstreamError`` when any call fails after retries: never a partial
    result.
    """
    began = datetime.now(UTC)
    run = ReportCalls(client, limits, progress)
    narrowed = scope is not None and not scope.reads_everything
    if speculate:
        recalled = client.shapes.recall(platform)
        if scope is not None and narrowed:
            recalled = tuple(c for c in recalled if _within(c.endpoint, dict(c.params), scope))
        run.speculate(recalled)
    results: list[PlatformData] = []
    listed: list[Platform] = []

    def platforms_known(platforms: list[Platform]) -> None:
        listed.extend(platforms)
        if scope is not None:
            platforms = [p for p in platforms if scope.sees_platform(p.value)]
        chosen = platforms
        if platform is not None:
            chosen = [p for p in platforms if p.value == platform]
            if not chosen:
                raise UnknownPlatform(platform, [p.value for p in platforms])
        if vet is not None:
            vet(chosen)
        for p in chosen:
            results.append(PlatformData(p, [], []))
            _fetch_platform(run, results[-1], len(results) - 1, scope, sink=sink)

    _read_platforms(run, platforms_known)
    run.wait()
    if speculate and not narrowed:  # a narrowed read's calls are no report's whole shape
        client.shapes.remember(platform, run.made)
    return Read(began, listed, results)


def fetch_lists(client: StractClient, limits: FetchLimits) -> list[PlatformData]:
    """Every platform with its fields and accounts, and no ad rows (no insights are read): what
    a key's scope can name."""
    run = ReportCalls(client, limits, None)
    results: list[PlatformData] = []

    def platforms_known(platforms: list[Platform]) -> None:
        for p in platforms:
            results.append(PlatformData(p, [], []))
            _fetch_platform(run, results[-1], len(results) - 1, insights=False)

    _read_platforms(run, platforms_known)
    run.wait()
    return results


def _within(endpoint: str, params: dict[str, str], scope: Scope) -> bool:
    """Whether a remembered call reads only what ``scope`` sees."""
    platform = params.get("platform")
    if platform is None:
        return endpoint == "platforms"
    if endpoint == "insights":
        return scope.sees_account(platform, params.get("account", ""))
    return scope.sees_platform(platform)


def _read_platforms(run: ReportCalls, then: Callable[[list[Platform]], None]) -> None:
    call = "platform list"
    run.paged("platforms", {}, call, lambda items: then([_platform(i, call) for i in items]))


def _fetch_platform(
    run: ReportCalls,
    data: PlatformData,
    position: int,
    scope: Scope | None = None,
    *,
    insights: bool = True,
    sink: InsightsSink | None = None,
) -> None:
    label = data.platform.label
    params = {"platform": data.platform.value}
    pending = {"fields", "accounts"}

    def part_done(part: str) -> None:
        pending.discard(part)
        if not pending and insights:
            if sink is not None:
                accounts = [(a.account.id, a.account.name) for a in data.accounts]
                sink.platform(position, data.platform, data.fields, accounts)
            for index, account_data in enumerate(data.accounts):
                _fetch_insights(run, data, account_data, (position, index), sink)

    def fields_known(items: list[Any]) -> None:
        data.fields = [_field(item, f"fields of {label}") for item in items]
        part_done("fields")

    def accounts_known(items: list[Any]) -> None:
        accounts = [AccountData(_account(item, f"accounts of {label}"), []) for item in items]
        # From now on no message of this process may show them, whichever call it is about.
        register(a.account.token for a in accounts)
        if scope is not None:
            value = data.platform.value
            accounts = [a for a in accounts if scope.sees_account(value, a.account.id)]
        data.accounts = accounts
        part_done("accounts")

    run.paged("fields", params, f"fields of {label}", fields_known)
    run.paged("accounts", params, f"accounts of {label}", accounts_known)


def _fetch_insights(
    run: ReportCalls,
    data: PlatformData,
    account_data: AccountData,
    where: tuple[int, int],
    sink: InsightsSink | None,
) -> None:
    account = account_data.account
    call = insights_call(data.platform.label, account.name)
    keys = [f.key for f in data.fields]
    params = {
        "platform": data.platform.value,
        "account": account.id,
        "token": account.token,
        "fields": ",".join(keys),
    }

    if sink is not None:

        def page_known(number: int, items: list[Any]) -> None:
            if not set(map(type, items)) <= {dict}:
                raise UpstreamBadPayload(call, "an item is not an object")
            sink.add(where[0], where[1], number, items)

        run.paged("insights", params, call, None, each_page=page_known)
        return

    def rows_known(items: list[Any]) -> None:
        # Each row is read by key (insight keys come back sorted, not in field order) and kept
        # as a tuple in field order: a third of the memory of the decoded dict.
        objects = [_require_object(item, call) for item in items]
        rows: list[Row] = [tuple(map(exact, map(item.get, keys))) for item in objects]
        account_data.rows = rows
        ids = [item.get(AD_ID) for item in objects]
        if None not in ids:
            account_data.ad_keys = [str(exact(i)) for i in ids]

    run.paged("insights", params, call, rows_known)


def _text(item: dict[str, Any], name: str, call: str) -> str:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise UpstreamBadPayload(call, f"an item lacks a text {name!r}")
    return str(value)


def _require_object(item: Any, call: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise UpstreamBadPayload(call, "an item is not an object")
    return item


def _platform(item: Any, call: str) -> Platform:
    item = _require_object(item, call)
    return Platform(value=_text(item, "value", call), label=_text(item, "text", call))


def _field(item: Any, call: str) -> Field:
    item = _require_object(item, call)
    return Field(key=_text(item, "value", call), label=_text(item, "text", call))


def _account(item: Any, call: str) -> Account:
    item = _require_object(item, call)
    return Account(
        id=_text(item, "id", call), name=_text(item, "name", call), token=_text(item, "token", call)
    )


__all__ = [
    "AD_ID",
    "InsightsSink",
    "fetch_lists",
    "fetch_platforms",
    "fetch_report_data",
]

"""The owner's commands over the store's access records: scoped keys, saved views, the audit
trail (``stract-reports keys | views | audit``; ``cli`` parses their arguments).

Everything a key's scope or a view names is checked before it is stored: a scope against the
upstream's platforms, accounts and fields (a mistyped account id would make a key that sees
nothing), a view's report and options with the server's own parser, then built once within
the key's scope (an option naming a column outside it would make a view that always fails).
A key and a view id are shown once, when made; the store keeps only their hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .config import Settings
from .formats import FORMATS
from .pipeline import build_source, slice_source
from .records import PlatformData
from .redaction import printable
from .report_options import ReportOptions
from .reports.metrics import label_key
from .reports.spec import ReportSpec
from .scope import Scope, ScopeError
from .store import AuditEntry, KeyRecord, Store, ViewRecord, open_store
from .upstream import FetchLimits, StractClient, fetch_lists
from .view_urls import parse_report_url, view_path

# Choices named in a message at most (an agency may have thousands of accounts).
SHOWN_CHOICES = 20


class AdminError(Exception):
    """A command cannot be done; the message is the one line to show."""


def admin_store(settings: Settings) -> Store:
    """The store the commands work on; ``AdminError`` when it is off."""
    store = open_store(settings.store)
    if store is None:
        raise AdminError(
            "keys, views and the audit trail live in the store, and STRACT_STORE_URL is off: "
            "set it to sqlite:///FILE or postgresql://..., or leave it empty for the default file"
        )
    return store


def upstream_lists(settings: Settings) -> list[PlatformData]:
    """Every platform with its fields and accounts, read from the upstream now (no ad rows)."""
    with StractClient(settings) as client:
        return fetch_lists(client, FetchLimits.from_settings(settings))


def _choices(values: Sequence[str]) -> str:
    shown = ", ".join(values[:SHOWN_CHOICES])
    more = len(values) - SHOWN_CHOICES
    return shown + (f" (and {more} more)" if more > 0 else "")


def check_scope(scope: Scope, lists: Sequence[PlatformData]) -> None:
    """Refuse a scope naming a platform, account or column the upstream does not serve
    (``ScopeError`` naming the choices): each would narrow a key to nothing."""
    platforms = {p.platform.value: p for p in lists}
    for value in scope.platforms:
        if value not in platforms:
            raise ScopeError(f"no platform {value!r}; platforms: {_choices(list(platforms))}")
    for value, ident in scope.accounts:
        if value not in platforms:
            raise ScopeError(f"no platform {value!r}; platforms: {_choices(list(platforms))}")
        ids = [a.account.id for a in platforms[value].accounts]
        if ident not in ids:
            raise ScopeError(
                f"{value} has no account {ident!r} (ids, not names: see keys accounts); "
                f"its accounts: {_choices(ids)}"
            )
    labels = {label_key(f.label): f.label for p in lists for f in p.fields}
    labels.update({label_key(f"{f.label} ({f.key})"): f.label for p in lists for f in p.fields})
    for column in scope.columns:
        if label_key(column) not in labels:
            names = list(dict.fromkeys(f.label for p in lists for f in p.fields))
            raise ScopeError(f"no column {column!r}; columns: {_choices(names)}")


def account_lines(lists: Sequence[PlatformData]) -> list[str]:
    """``keys accounts``: platform, account id, account name, one account a line, aligned."""
    rows = [(p.platform.value, a.account.id, a.account.name) for p in lists for a in p.accounts]
    return _aligned([("PLATFORM", "ACCOUNT ID", "ACCOUNT NAME"), *rows])


def key_lines(keys: Sequence[KeyRecord], now: datetime) -> list[str]:
    """``keys list``: name, state, scope, created, expires, last used, uses."""
    rows = [
        (
            k.name,
            _key_state(k, now),
            k.scope.describe(),
            _when(k.created),
            _when(k.expires),
            _when(k.last_used),
            str(k.uses),
        )
        for k in keys
    ]
    header = ("NAME", "STATE", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "USES")
    return _aligned([header, *rows])


def _key_state(key: KeyRecord, now: datetime) -> str:
    if key.revoked is not None:
        return "revoked"
    if key.expires is not None and now >= key.expires:
        return "expired"
    return "active"


def view_lines(views: Sequence[ViewRecord], now: datetime) -> list[str]:
    """``views list``: name, state, key, report with its options, created."""
    rows = []
    for v in views:
        state = "revoked" if v.revoked is not None else _key_state(v.key, now)
        if v.revoked is None and state != "active":
            state = f"ended (key {state})"
        report = f"{v.report}.{v.format}" + (f"?{v.query}" if v.query else "")
        rows.append((v.name, state, v.key.name, report, _when(v.created)))
    return _aligned([("NAME", "STATE", "KEY", "REPORT", "CREATED"), *rows])


def audit_lines(entries: Sequence[AuditEntry]) -> list[str]:
    """``audit``: when, key (``owner`` for an owner key), view, report, status; newest first."""
    rows = [
        (
            _when(e.at, seconds=True),
            e.key or "(owner)",
            e.view or "-",
            f"{e.report}.{e.format}",
            str(e.status),
        )
        for e in entries
    ]
    return _aligned([("AT", "KEY", "VIEW", "REPORT", "STATUS"), *rows])


def check_view(
    settings: Settings, spec: ReportSpec, fmt: str, options: ReportOptions, scope: Scope
) -> None:
    """Build the view once within ``scope`` as the server would, now: a report outside the
    scope, a column it hides, or any other option the report cannot take fails here."""
    with StractClient(settings) as client:
        source = build_source(client, spec, scope=None if scope.full else scope)
    shown = FORMATS[fmt]
    slice_source(
        source,
        options.slice,
        ratios=options.ratios,
        page_size=shown.page_size,
        totals=shown.totals and not spec.summary,
    )


def parse_view(url: str) -> tuple[ReportSpec, str, ReportOptions, str]:
    """A view's report URL (``geral/resumo.csv?_by=Country``) checked by the server's parser:
    the report, format, options and the query as it is stored."""
    spec, fmt, options = parse_report_url(url)
    return spec, fmt, options, url.partition("?")[2]


def formula_lines(base: str, view_id: str, fmt: str) -> list[str]:
    """What ``views add`` prints: the view's URL, and the formulas that import it."""
    url = base.rstrip("/") + view_path(view_id)
    csv = url if fmt == "csv" else base.rstrip("/") + view_path(view_id, "csv")
    return [
        url,
        "",
        f'Google Sheets:  =IMPORTDATA("{csv}")',
        f'Excel (Power Query):  = Csv.Document(Web.Contents("{csv}"), '
        '[Delimiter=",", Encoding=65001])',
    ]


def expiry(now: datetime, duration: timedelta | None) -> datetime | None:
    """When a key made ``now`` for ``duration`` expires (None: never)."""
    return None if duration is None else now + duration


def _when(at: datetime | None, *, seconds: bool = False) -> str:
    if at is None:
        return "-"
    return at.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines, each column padded to its widest cell (the last one not padded); what
    the upstream named is shown with its control characters escaped."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]

"""``/history``: the snapshots the store holds of this upstream, newest first, a page at a time,
each with its time, trigger and counts (not for a scoped key: they are the whole upstream's)
and links to the reports as of it. HTML for browsers
(``/history.html``, or ``/history`` asked by one), JSON for programs (``/history.json``:
``{"snapshots": [...], "next": URL or null}``).

    ?_size=N     snapshots per page (default 50, at most 1000)
    ?_next=TOKEN the page after; each page names its next
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request

from .access import current_access
from .errors import InvalidRequest, UnsupportedFormat
from .extensions import current_store
from .formats import prefers_html
from .history_query import exact_time, shown_time
from .render.html import render_history_html
from .render.json import dumps
from .security import csp_nonce
from .transfer import deliver, entity_tag
from .urls import HISTORY_ROUTES, history_url, snapshot_links

PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
OPTIONS = ("_size", "_next")
FORMATS = {"html": "text/html", "json": "application/json"}


def history(fmt: str = "") -> Response:
    """The snapshot list in ``fmt`` ("": HTML for a browser, else JSON)."""
    if fmt and fmt not in FORMATS:
        raise UnsupportedFormat(fmt, " or ".join(f".{name}" for name in FORMATS))
    chosen = fmt or ("html" if prefers_html(request.accept_mimetypes.quality) else "json")
    size, cursor = _options()
    store = current_store().require()
    try:
        page = store.snapshots.page(limit=size, cursor=cursor)
    except ValueError:
        raise InvalidRequest("_next is no page of this list: follow a page's own next") from None
    scope = current_access().scope
    # A scoped key sees when the upstream was read, never how much of it there was.
    counted = scope is None or scope.full
    snapshots = [_item(s, counted) for s in page.snapshots]
    shown_size = {"_size": str(size)} if size != PAGE_SIZE else {}
    following = None
    if page.next is not None:
        following = history_url(chosen, urlencode({**shown_size, "_next": page.next}))
    document = {"snapshots": snapshots, "next": following}
    data = dumps(document)
    if chosen == "json":
        response = Response(data, mimetype=FORMATS["json"])
    else:
        shown = [
            {**item, "shown_at": shown_time(s.taken_at)}
            for item, s in zip(snapshots, page.snapshots, strict=True)
        ]
        body = render_history_html(
            shown,
            next_url=following,
            first_url=history_url("html", urlencode(shown_size)) if cursor else None,
            json_url=history_url("json", urlencode({**shown_size, "_next": cursor or ""}))
            if cursor
            else history_url("json", urlencode(shown_size)),
            nonce=csp_nonce(),
        )
        response = Response(body, mimetype=FORMATS["html"])
    if not fmt:
        response.vary.add("Accept")
    # The list grows with every recording: the tag is over what it lists, not the page's nonce.
    return deliver(request, response, entity_tag(chosen, data, weak=chosen == "html"))


def _options() -> tuple[int, str | None]:
    """``_size`` and ``_next``; anything else is a 400 naming them."""
    for name in request.args:
        if name not in OPTIONS:
            raise InvalidRequest(f"unknown option {name[:40]!r}; /history takes _size and _next")
    raw = request.args.get("_size", "")
    size = PAGE_SIZE
    if raw:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) or not (
            1 <= int(raw) <= MAX_PAGE_SIZE
        ):
            raise InvalidRequest(f"_size must be a whole number from 1 to {MAX_PAGE_SIZE}")
        size = int(raw)
    return size, request.args.get("_next") or None


def _item(snapshot: Any, counted: bool) -> dict[str, Any]:
    """One snapshot as the list shows it; without its counts (null) unless ``counted``: they
    are the whole upstream's, which a scoped key must not learn."""
    exact = exact_time(snapshot.taken_at)
    counts = ("platforms", "accounts", "ads", "changed")
    return {
        "id": snapshot.id,
        "taken_at": exact,
        "trigger": snapshot.trigger,
        **{name: getattr(snapshot, name) if counted else None for name in counts},
        "links": snapshot_links(exact),
    }


def init_app(app: Flask) -> None:
    """Register ``/history`` and ``/history.<fmt>``."""
    bare, suffixed = HISTORY_ROUTES
    app.add_url_rule(bare, "history", view_func=history, defaults={"fmt": ""})
    app.add_url_rule(suffixed, "history", view_func=history)

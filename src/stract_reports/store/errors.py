"""What can go wrong with the store, as part of the report exception tree (``errors.py``).

    ReportError
    └── StoreError                    503  the store cannot do what was asked
        ├── StoreUnavailable          503  down (unreachable, I/O error), full, or locked
        ├── StoreTooNew               503  its schema is newer than this program (at start)
        ├── NothingRecorded           404  no snapshot at or before the time asked for
        ├── NameTaken                 409  a key or view of that name exists
        └── NotFound                  404  no key or view of that name

The CLI shows any of them as one line; a web request answers with its status. Messages name
the store as ``store_location.StoreLocation.shown`` (never a password) and never a key or view id.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import ReportError


class StoreError(ReportError):
    """The store cannot do what was asked."""

    status = 503
    title = "store unavailable"


class StoreUnavailable(StoreError):
    """The store is down, full or locked: ``kind`` says which, ``detail`` in words."""

    def __init__(self, kind: str, where: str, reason: str) -> None:
        super().__init__(f"the store ({where}) is {kind}: {reason}")
        self.kind = kind
        self.reason = reason


class StoreTooNew(StoreError):
    """The store was migrated by a newer stract-reports than this one."""

    def __init__(self, where: str, found: int, known: int) -> None:
        super().__init__(
            f"the store ({where}) has schema version {found}, newer than this stract-reports "
            f"knows (up to {known}): upgrade stract-reports, or point STRACT_STORE_URL elsewhere"
        )
        self.found = found
        self.known = known


class NothingRecorded(StoreError):
    """Nothing was recorded at or before the time asked for; ``first`` is the first
    snapshot's time (of the platform, when one was named), None when there is none."""

    status = 404
    title = "nothing recorded"

    def __init__(self, at: datetime, first: datetime | None, platform: str | None = None) -> None:
        what = f"of {platform} " if platform else ""
        when = at.isoformat(timespec="seconds")
        if first is None:
            detail = f"no snapshot {what}was ever recorded"
        else:
            detail = (
                f"no snapshot {what}at or before {when}: the first is "
                f"{first.isoformat(timespec='seconds')}"
            )
        super().__init__(detail)
        self.at = at
        self.first = first
        self.platform = platform


class NameTaken(StoreError):
    """A key or view with this name exists (revoked ones keep their names)."""

    status = 409
    title = "name taken"


class NotFound(StoreError):
    """No key or view has this name."""

    status = 404
    title = "not found"

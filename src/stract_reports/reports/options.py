"""The query options of every report, in one vocabulary. Datasette's convention: a name that
starts with ``_`` is an option, anything else names a column (a filter).

    ratios=recompute|sum       summaries: ratios recomputed from summed components, or summed
    excel=br|1                 the CSV's Excel presets (``formats.EXCEL_PRESETS``)
    download[=1]               the answer as an attachment
    _shape=objects|array       JSON: the document, or its bare rows
    key=KEY                    the access key (``access`` takes it out before the app sees it)
    _=anything                 a cache-buster: changes nothing
    _col _sort _sort_desc _size _next _by _search _facet _flags    slicing (``slicing``)
    Column__op=value           a filter with one of Datasette's operators (``filters``)
    as_of since until compare _grain         history (``history_query``)

A saved view's URL may set only ``VIEW_OPTIONS``; its other options were saved with it.
"""

from __future__ import annotations

from typing import Literal, get_args

# How summaries treat ratio columns: recompute them from summed components, or sum them.
RatioMode = Literal["recompute", "sum"]
RATIO_MODES: tuple[str, ...] = get_args(RatioMode)
# ?_shape= of a JSON answer ("" is the document, as "objects").
JSON_SHAPES = ("", "objects", "array")
# The slicing options; anything else with a leading underscore is unknown.
SLICING_OPTIONS = (
    "_col",
    "_sort",
    "_sort_desc",
    "_size",
    "_next",
    "_by",
    "_search",
    "_facet",
    "_flags",
)
# What a switch option (``_flags``) takes.
SWITCH_WORDS = {"1": True, "true": True, "yes": True, "on": True}
SWITCH_WORDS |= {"0": False, "false": False, "no": False, "off": False}
# Reports over time: the store's snapshots picked by time.
HISTORY_OPTIONS = ("as_of", "since", "until", "compare", "_grain")
# Options the slicing leaves alone: they are neither slicing options nor columns.
OTHER_OPTIONS = frozenset({"ratios", "excel", "download", "key", "_shape", "_", *HISTORY_OPTIONS})
# Options that change the output table (not the selected ads): links to another report drop
# them, since its columns differ. Filters, ``_search`` and ``_facet`` choose or describe the
# ads, which every report of the family shares; ``_grain`` makes a time series of the table.
TABLE_OPTIONS = (frozenset(SLICING_OPTIONS) - {"_search", "_facet"}) | {"_grain"}
# Options that belong to one format's answer: links to other formats set their own.
FORMAT_ONLY_OPTIONS = frozenset({"excel", "download", "_shape"})
# The fields of an HTML page's filter form: the server turns them into ``Column__op=value``.
FORM_OPTIONS = frozenset({"_filter_column", "_filter_op", "_filter_value"})
# Never written into a page: an access key must not appear in a response body.
SECRET_OPTIONS = frozenset({"key"})
# What the URL of a saved view may set (the history's times, the page, a cache-buster).
VIEW_OPTIONS = ("as_of", "since", "until", "_next", "_")

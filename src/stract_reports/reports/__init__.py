"""Report computation, pure: fetched upstream records in, a ``Table`` out; no Flask, no HTTP.

spec       which report (a platform's or the general one; ads or summary)
table      the neutral table every report is computed as, held column-wise: number columns
           (columnar: exact 64-bit digits and scales) and text columns (words: dictionary)
ingest     the ad table assembled as insight pages arrive (layout, pieces, columns typing)
ads        the ad table of a report and its default groups
summary    one row per group: exact sums, ratios recomputed
slicing    the URL options applied: which rows, then sort, page and columns
numbers    the one number parser and printer; metrics: which columns are ratios
"""

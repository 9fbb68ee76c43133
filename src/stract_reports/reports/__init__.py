"""Report computation, pure: fetched upstream records in, a ``Table`` out; no Flask, no HTTP.

spec       which report (a platform's or the general one; ads or summary)
columns    typing a column: numbers or text
ads        assembling the ad table (layout, then columns) and its default groups
summary    one row per group: sums, ratios recomputed
slicing    the URL options applied: which rows, then sort, page and columns
numbers    the one number parser and printer; metrics: which columns are ratios
table      the neutral table every report is computed as
"""

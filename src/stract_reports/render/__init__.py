"""Renderers: one ``Table`` in, CSV, JSON, HTML, XLSX or SVG out (the registry is
``renderers.RENDERERS``)."""

"""Segments (issue 13): saved member filters evaluated in SQL, their nightly re-evaluation with
segment.entered / segment.exited events, and the CSV of a segment's members."""

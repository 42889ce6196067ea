"""collect: list a live cluster's image-referencing objects, paged, into a dump (docs/collect.md).

Only `collect/client.py` imports the kubernetes client; everything else here works on raw
HTTP answers (status, headers, body bytes) so it stays small and testable.
"""

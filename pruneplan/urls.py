"""The API server's URL as pruneplan records and shows it: never with credentials."""

from __future__ import annotations

import re

# `[scheme:]//user:password@`: the userinfo runs to the last "@" before the path, query or fragment
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.-]*:)?//)?[^/?#]*@")


def without_userinfo(url: str) -> str:
    """`url` without `user:password@`. A kubeconfig's server URL may carry it, and the URL goes
    into dumps, plans, reports and messages; the kubernetes client never sends it anyway."""
    return _USERINFO.sub(r"\1", url, count=1)

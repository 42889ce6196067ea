"""execute: verify a signed plan, re-check it against the live cluster, replay it safely."""

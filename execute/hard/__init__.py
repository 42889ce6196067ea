"""execute of a hard-prune plan (docs/execute.md, "Hard-prune plans"): storage the API no longer
accounts for, deleted from a read-only registry's filesystem storage."""

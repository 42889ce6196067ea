"""The plan's entries from an analysis, and the writer of the plan file and the dry-run lines."""

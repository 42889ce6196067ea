"""Why an image, a history item or a blob is kept or pruned, from an analysis."""

"""Benchmarks: a generator of large realistic dumps and a runner that times `pruneplan analyze`."""

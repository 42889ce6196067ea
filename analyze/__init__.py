"""analyze: upstream-identical prune decisions from a dump, as a reference graph and a plan.

Runs air-gapped: it imports neither `kubernetes` nor `requests`.
"""

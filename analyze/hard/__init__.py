"""Hard pruning: `analyze --hard` and `explain --hard` (docs/rules.md, "Hard pruning")."""

"""The decisions: the input model, who references what, upstream's rules, the reference graph."""

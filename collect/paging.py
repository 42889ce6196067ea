"""How collect pages its list requests (here, not in collect.lister: the CLI reads the default
for its option, and importing the lister, with urllib, made every command start 3 ms later)."""

DEFAULT_PAGE_SIZE = 500  # objects per list request

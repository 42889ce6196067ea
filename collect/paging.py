"""How collect pages its list requests. The default lives here, not in collect.lister: the CLI
reads it for its option at every start, and importing the lister (with urllib) for it made
every command start 3 ms later."""

DEFAULT_PAGE_SIZE = 500  # objects per list request

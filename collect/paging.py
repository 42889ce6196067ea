"""How collect pages its list requests. The default lives here, not in collect.lister: the CLI
reads it for its option at every start, and importing the lister (with urllib) for it made
every command start 3 ms later."""

DEFAULT_PAGE_SIZE = 500  # objects per list request
# Lists run at the same time (kinds, not pages: a list's pages follow its continue token). A few
# hide most of the round trips; a burst of many would weigh on the API server for little more.
DEFAULT_PARALLEL_LISTS = 4

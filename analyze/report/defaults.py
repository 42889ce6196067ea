"""The report's defaults, apart from its machinery: the command's options read them at start-up."""

# Rows per ranked table: enough to review, few enough that a large plan's Markdown report fits a ticket.
DEFAULT_TOP = 10

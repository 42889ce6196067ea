"""pruneplan: the common package shared by collect, analyze and execute.

It holds only what every stage needs: the CLI root, the dump and plan formats, the policy
(upstream's flags), time and duration parsing, and the error type with its exit statuses.
"""

__version__ = "0.1.0"
TOOL_NAME = "pruneplan"

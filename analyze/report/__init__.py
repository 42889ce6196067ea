"""The review report of a plan: what it holds (review), rendered as Markdown or HTML."""

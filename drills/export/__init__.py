"""The export step: findings of a run → the paper's verified section.

``splice`` (pure) replaces the text between a paper's markers; ``render_block`` turns findings
into Markdown; ``export_run`` does both for one run and writes the paper atomically.
"""

from .publish import Exported, export_run, latest_run
from .render import markdown_table, render_block
from .splice import begin_marker, end_marker, splice

__all__ = ["Exported", "begin_marker", "end_marker", "export_run", "latest_run", "markdown_table",
           "render_block", "splice"]

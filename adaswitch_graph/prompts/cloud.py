"""Prompt of a cloud model that cannot continue the solution: the local model's own
prompt for the next step, so it writes the step as a continuing cloud would.

It is not shown the local model's draft. Shown it, the bundled 1.5B copied it word for
word in most of the steps it was asked to rewrite (docs/benchmarks.md, session 12),
spending its tokens on the local model's mistake; a cloud that continues the solution
is not shown it either. A prompt of one's own still receives the draft as `draft`.
"""

from adaswitch_graph.prompts.local import LOCAL_NEXT_PROMPT

CLOUD_PROMPT = LOCAL_NEXT_PROMPT

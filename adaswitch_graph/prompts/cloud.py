"""Prompt of a cloud model that cannot continue the solution: write the flagged step.

It is not shown the local model's draft. Shown it, the bundled 1.5B copied it word for
word in most of the steps it was asked to rewrite (docs/benchmarks.md, session 12),
spending its tokens on the local model's mistake; a cloud that continues the solution
is not shown it either. A prompt of one's own still receives the draft as `draft`.
"""

from langchain_core.prompts import ChatPromptTemplate

CLOUD_SYSTEM = (
    "You are an expert who writes the next step of a step-by-step solution begun by a "
    "smaller model. Write only the requested step, as 'Step N: ...', in the same style: "
    "one short piece of reasoning or one calculation. If it is the last step, end it with "
    "a line 'Answer: <answer>'."
)

CLOUD_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", CLOUD_SYSTEM),
        (
            "human",
            "Problem: {question}\n\nSolution so far:\n{solution}\n\nWrite Step {index}.",
        ),
    ]
)

"""Prompt of the cloud model: correct one flagged step, in the same format."""

from langchain_core.prompts import ChatPromptTemplate

CLOUD_SYSTEM = (
    "You are an expert who corrects one step of a step-by-step solution written by a "
    "smaller model. Write only the requested step, as 'Step N: ...', in the same style: "
    "one short piece of reasoning or one calculation. If it is the last step, end it with "
    "a line 'Answer: <answer>'."
)

CLOUD_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", CLOUD_SYSTEM),
        (
            "human",
            "Problem: {question}\n\nSolution so far:\n{solution}\n\n"
            "Draft of Step {index} (it may be wrong):\n{draft}\n\n"
            "Write Step {index} correctly.",
        ),
    ]
)

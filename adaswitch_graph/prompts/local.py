"""Prompts of the local model: the next step, a retry after a critique, the final answer."""

from langchain_core.prompts import ChatPromptTemplate

LOCAL_SYSTEM = (
    "Solve the problem step by step. Write each step on its own line as "
    "'Step N: ...', one short piece of reasoning or one calculation per step. "
    "After the last step write the final answer on its own line as 'Answer: <answer>'."
)

LOCAL_PROMPT = ChatPromptTemplate.from_messages([("system", LOCAL_SYSTEM), ("human", "{question}")])
"""Used when the backend continues the assistant's own message: the solution so far is
sent as the start of the assistant turn, and the model continues it."""

LOCAL_NEXT_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", LOCAL_SYSTEM),
        (
            "human",
            "{question}\n\nSolution so far:\n{solution}\n\n"
            "Write only Step {index}, as 'Step {index}: ...'. If it is the last step, "
            "end it with a line 'Answer: <answer>'.",
        ),
    ]
)
"""Used when the backend cannot continue an assistant message."""

LOCAL_RETRY_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", LOCAL_SYSTEM),
        (
            "human",
            "{question}\n\nSolution so far:\n{solution}\n\n"
            "This draft of Step {index} was judged likely wrong:\n{draft}\n\n"
            "Check it and write Step {index} again, correctly, as 'Step {index}: ...'. "
            "If it is the last step, end it with a line 'Answer: <answer>'.",
        ),
    ]
)

ANSWER_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", LOCAL_SYSTEM),
        (
            "human",
            "{question}\n\nSolution:\n{solution}\n\n"
            "Give only the final answer, as 'Answer: <answer>'.",
        ),
    ]
)

"""Prompt of the local model's optional yes/no judgement of its own step."""

from langchain_core.prompts import ChatPromptTemplate

JUDGE_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "You check one step of a solution. Reply with one word: yes or no."),
        (
            "human",
            "Problem: {question}\n\nSolution so far:\n{solution}\n\n"
            "New step:\nStep {index}: {step}\n\nIs the new step correct? Answer yes or no.",
        ),
    ]
)

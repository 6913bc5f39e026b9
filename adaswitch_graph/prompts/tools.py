"""What the models are told about the tools a step may call."""

from langchain_core.prompts import PromptTemplate

TOOLS_PROMPT = PromptTemplate.from_template(
    "You can use these tools:\n{tools}\n"
    "To use one, end a step with 'Action: <tool>[<input>]', e.g. "
    "'Action: {example}[...]'. Its result comes back on the next line as "
    "'Observation: <result>'; use it in the following steps."
)

"""AdaSwitch as a drop-in chat model: an ordinary LCEL chain (prompt | model | parser)
that never learns a graph is behind it.

    python examples/drop_in_chain.py

Models: $ADASWITCH_LOCAL and $ADASWITCH_CLOUD (default: the bundled pair).
"""

from __future__ import annotations

import os

from langchain_core.callbacks import get_usage_metadata_callback
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from adaswitch_graph import AdaSwitchChatModel

PROMPT = ChatPromptTemplate.from_template(
    "A shop had {start} apples, sold {sold} and received {received}. How many now?"
)


def main() -> None:
    model = AdaSwitchChatModel(
        local_model=os.environ.get("ADASWITCH_LOCAL", "embedded:qwen2.5-coder-0.5b"),
        cloud_model=os.environ.get("ADASWITCH_CLOUD", "embedded:qwen2.5-coder-1.5b"),
        graph_kwargs={"max_steps": 6},
    )
    chain = PROMPT | model | StrOutputParser()
    with get_usage_metadata_callback() as usage:
        answer = chain.invoke({"start": 40, "sold": 15, "received": 12})
    print("answer:", answer)
    for name, counts in usage.usage_metadata.items():
        print(
            f"{name}: {counts['input_tokens']} in, {counts['output_tokens']} out, "
            f"by side {counts.get('output_token_details')}"
        )


if __name__ == "__main__":
    main()

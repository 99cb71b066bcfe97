"""The LLM layer: gateway (the only openai importer), model profiles, the prompt registry.

Kept import-free so that ``service.llm.prompts`` (schemas, ``delimit``) can be imported by task
modules without pulling in the openai SDK.
"""

"""The LLM layer, the only importer of openai: where requests go (endpoint, local), the gateway
(cache, retry, answers), the Batch API, model profiles, the prompt registry.

Kept import-free so that ``service.llm.prompts`` (schemas, ``delimit``) can be imported by task
modules without pulling in the openai SDK.
"""

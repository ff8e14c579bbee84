"""maascheck: conformance suite and streaming load tester for OpenAI-compatible LLM endpoints."""

__version__ = "0.1.0"

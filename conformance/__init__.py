"""The conformance suite: rules that judge any OpenAI-compatible endpoint, run as a pytest plugin."""

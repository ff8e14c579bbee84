"""The conformance suite: rules that judge any OpenAI-compatible endpoint, run as a pytest plugin.

PYTEST_DONT_REWRITE: rules report through `Violation`, not `assert`, and `maascheck conformance`
imports this package before pytest starts, so assertion rewriting is neither needed nor possible.
"""

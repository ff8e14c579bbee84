"""The conformance suite entry in a checkout: `pytest conformance --base-url URL --model NAME`.

The items (one per rule, ids like STREAM-003) come from the installed package's test module, which
`maascheck conformance` runs directly; this file only puts it where `pytest conformance` looks.
"""

from maascheck.conformance.test_rules import test_rule

__all__ = ["test_rule"]

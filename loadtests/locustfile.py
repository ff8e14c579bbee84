"""Locust entry point in a checkout: `locust -f loadtests/locustfile.py --host URL --model NAME ChatUser ...`.

The users, the shape and the listeners live in the installed package (`maascheck.load.locustfile`;
`maascheck locustfile` prints its path for use outside a checkout). Locust is imported first, so its
gevent monkey-patching happens before anything else.
"""

import locust  # noqa: F401  (first: gevent monkey-patching happens here)

from maascheck.load.locustfile import ChatUser, CompletionsUser, MaascheckShape, ReasoningUser, VisionUser

__all__ = ["ChatUser", "CompletionsUser", "MaascheckShape", "ReasoningUser", "VisionUser"]

"""Locust entry point: `locust -f loadtests/locustfile.py --host URL --model NAME ChatUser ...`.

Thin on purpose: Locust (and its gevent patching) is imported first, then the users, the shape and the
listeners register themselves. Importing this file has no other side effect.
"""

import locust  # noqa: F401  (first: gevent monkey-patching happens here)

from maascheck.load.run import listeners
from maascheck.load.run.shapes import MaascheckShape
from maascheck.load.run.users import ChatUser, CompletionsUser, ReasoningUser, VisionUser

listeners.register()

__all__ = ["ChatUser", "CompletionsUser", "MaascheckShape", "ReasoningUser", "VisionUser"]

"""Vendor-parameter faults: each breaks exactly one EXT rule (conformance/rules/extras.py).

The EXT rules apply only under a profile that lists the parameter in `features.vendor_params`
(`maas-openmodels` lists stop_token_ids, `taichu` repetition_penalty); under `openai` they are
NotApplicable, so these faults prove their rule under those profiles. The faults act on the
suite's plain requests that carry the parameter (seeds/000 prompt), not on the PARAM range probes.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from maascheck.sim.faults import Fault, RequestView, Response, register
from maascheck.sim.faults._util import SEED_PROMPT, error_response, from_suite, request_json


def _reject(param: str) -> Callable[[RequestView], Response | None]:
    def hook(view: RequestView) -> Response | None:
        req = request_json(view)
        if (
            view.endpoint == "chat"
            and from_suite(view)
            and param in req
            and SEED_PROMPT in json.dumps(req.get("messages"))
        ):
            return error_response(400, f"Unrecognized request argument supplied: {param}", param)
        return None

    return hook


for _fault in (
    Fault(
        "ext-stop-token-ids-rejected",
        "stop_token_ids is refused as an unknown argument",
        breaks=("EXT-001",),
        profile="maas-openmodels",
        on_request=_reject("stop_token_ids"),
    ),
    Fault(
        "ext-repetition-penalty-rejected",
        "repetition_penalty is refused as an unknown argument",
        breaks=("EXT-002",),
        profile="taichu",
        on_request=_reject("repetition_penalty"),
    ),
):
    register(_fault)

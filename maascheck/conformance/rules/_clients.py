"""Client impact evidence: what a named real client does with a failing answer.

Each entry was read from the client's own code (openai-python `_streaming.py` `Stream.__stream__`,
`_response.py` `BaseAPIResponse._parse`, `_client.py` `_make_status_error`) or observed by the
SDK rules, which run the client itself. Rules cite them with `impact=Impact.CLIENT, breaks=[...]`.
"""

from __future__ import annotations

from maascheck.conformance.model.rule import ClientBreak

OPENAI_PYTHON = "openai-python (the official SDK)"

SDK_OBSERVED = ClientBreak(
    OPENAI_PYTHON, "the call itself raises or returns the wrong object (the rule runs the SDK; evidence names it)"
)
STATUS_ERROR = ClientBreak(OPENAI_PYTHON, "raises openai.APIStatusError for any non-2xx answer to a valid request")
NOT_JSON_BODY = ClientBreak(
    OPENAI_PYTHON,
    "a 2xx body that is not a JSON object comes back as a str (or raises json.JSONDecodeError): "
    "reading .choices raises AttributeError",
)
EVENT_NOT_JSON = ClientBreak(
    OPENAI_PYTHON, "Stream.__stream__ calls sse.json() on every event: raises json.JSONDecodeError"
)
EVENT_ERROR = ClientBreak(
    OPENAI_PYTHON, "Stream.__stream__ raises openai.APIError for an event whose data holds `error`"
)
STREAM_UNASKED = ClientBreak(
    OPENAI_PYTHON,
    "create() without stream reads an event stream as one body: it returns a str, not a ChatCompletion",
)

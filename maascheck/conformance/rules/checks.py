"""Small assertions rules share: transport success, status, JSON body, schema validity."""

from __future__ import annotations

from typing import Any

from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import NotApplicable, Violation


def require_complete(ex: Exchange) -> None:
    """Raise a Violation when the exchange was cut short by a transport failure."""
    if ex.error:
        raise Violation(
            f"the {ex.probe} request did not complete: {ex.error_kind}: {ex.error}",
            expected="a complete HTTP response",
            received=ex.error_kind,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )


def require_status(ex: Exchange, expected: int | set[int], what: str, shown: str | None = None) -> None:
    """Raise a Violation unless the status is `expected` (one code or a set; `shown` describes it)."""
    require_complete(ex)
    allowed = {expected} if isinstance(expected, int) else expected
    if ex.status not in allowed:
        shown = shown or " or ".join(str(s) for s in sorted(allowed))
        raise Violation(
            f"{what}: expected HTTP {shown}, received {ex.status} {body_excerpt(ex)}",
            expected=shown,
            received=ex.status,
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )


def body_excerpt(ex: Exchange, limit: int = 160) -> str:
    """The response's media type and the start of its body on one line, e.g. `(text/plain: Internal ...)`."""
    text = " ".join(ex.body[: limit * 4].decode("utf-8", errors="replace").split())
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"({media_type(ex) or 'no Content-Type'}: {text or 'empty body'})"


def precondition_status(ex: Exchange, expected: int | set[int], rule_ids: str) -> None:
    """Raise NotApplicable unless the status is `expected`: another rule (`rule_ids`) judges the status."""
    allowed = {expected} if isinstance(expected, int) else expected
    if ex.error or ex.status not in allowed:
        got = ex.error_kind if ex.error else ex.status
        raise NotApplicable(f"{ex.probe} answered {got}, not {sorted(allowed)}; {rule_ids} judges that")


def json_body(ex: Exchange, what: str) -> Any:
    """The response body parsed as JSON, or a Violation saying why it is not."""
    require_complete(ex)
    if ex.json is None and ex.body.strip() != b"null":
        try:
            text = ex.body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        problem = "not valid UTF-8" if text is None else f"not usable JSON ({(ex.json_problem or '')[:300]})"
        raise Violation(
            f"{what}: the body is {problem}",
            expected="a JSON document",
            received=ex.body[:300].decode("utf-8", errors="replace"),
            where=f"{ex.method} {ex.url}",
            exchange=ex,
        )
    return ex.json


def schema_errors(schema: str, instance: Any) -> list[tuple[str, str]]:
    """(JSON path, message) for each way `instance` breaks schema `schema` (empty when valid)."""
    from maascheck.core import schema_registry as schemas

    found = schemas.validator(schema).iter_errors(instance)
    return sorted((e.json_path, e.message) for e in found)


def media_type(ex: Exchange) -> str:
    """The response media type, lower-cased, without parameters ('' when absent)."""
    return (ex.header("content-type") or "").split(";")[0].strip().lower()

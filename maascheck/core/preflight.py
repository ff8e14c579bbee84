"""Preflight: a handful of requests (at most 5) that tell whether a target can be tested at all.

Run before every conformance suite, load run and sweep. It classifies the target and, when it
cannot be tested, stops the run with exit 2 and one message saying what to fix:

- `unreachable` / `tls`: the connection or the TLS handshake failed; `no_answer`: no answer in time;
- `wrong_path`: every request was 404; the profile's documented base path and `/v1` on the same
  origin are tried and the one that answers is named ("did you mean …/maas/v1?");
- `key_missing` (the key variable is unset or empty and the target answers 401/403, naming the
  variable) / `key_refused` (a key was sent and refused with 401/403; the key is never printed);
- `model_not_served`: the generation request names the model as unknown; what `GET /models` offers
  is listed;
- `rate_limited`: 429 (with `Retry-After` when the target sent one);
- `redirect`: a 3xx answer (redirects are never followed: the key goes to the configured origin only).

Requests: `GET {base}/models`, then one minimal generation request (`max_tokens: 1`, not streamed),
then, only when both were 404, one generation request per alternative base path. Every request has
bounded connect/read timeouts and the whole preflight a deadline; at most `MAX_BODY_BYTES` of each
answer are read. Status codes as RFC 9110 §15 defines them; `Retry-After` as RFC 9110 §10.2.3.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from maascheck.core.errors import ConfigError
from maascheck.core.inert import one_line
from maascheck.core.options import Option
from maascheck.core.retry_after import retry_after_seconds
from maascheck.core.secrets import Redactor

MAX_REQUESTS = 5
MAX_BODY_BYTES = 65536
DEADLINE_S = 8.0
CONNECT_TIMEOUT_S = 3.0
READ_TIMEOUT_S = 5.0
SNIPPET_CHARS = 160
MODELS_LISTED = 20
SHORT_WAIT_S = 2.0  # a Retry-After this short is waited out once; a longer one is `rate_limited`

NO_PREFLIGHT = Option(
    "no-preflight",
    "skip the preflight (at most 5 requests that check the URL, key and model before the run)",
    flag=True,
)
# `maascheck <command>` runs the preflight itself and hands the findings to the pytest/Locust process.
PREFLIGHT_RESULT = Option("preflight-result", "findings of a preflight already made (a JSON file)", hidden=True,
                          reproduce=False, env=False)  # fmt: skip
FINDINGS_FILE = "preflight.json"

PROBLEMS = (
    "unreachable",
    "tls",
    "no_answer",
    "wrong_path",
    "key_missing",
    "key_refused",
    "model_not_served",
    "rate_limited",
    "redirect",
)


@dataclass(frozen=True)
class PreflightTarget:
    """What the run is about to test: where, which model, with which key variable."""

    base_url: str
    model: str
    api_key_env: str
    api_key: str | None = field(default=None, repr=False)
    profile_base_path: str = "/v1"
    generate_path: str = "/chat/completions"
    chat_style: bool = True  # messages (chat) or prompt (legacy completions)


@dataclass
class Check:
    """One preflight request and what came back."""

    method: str
    url: str
    status: int | None = None
    outcome: str = "answered"  # answered | connect_error | tls_error | timeout | redirect
    elapsed_ms: float = 0.0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """This check as JSON data."""
        return {
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "outcome": self.outcome,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "note": self.note,
        }


@dataclass
class PreflightResult:
    """The preflight's findings: ok, or the problem and the message saying what to fix."""

    ran: bool = True
    problem: str | None = None
    message: str = ""
    checks: list[Check] = field(default_factory=list)
    models_offered: list[str] | None = None
    key_env: str = ""
    key_set: bool = False
    suggestion: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        """The target can be tested (or the preflight was skipped)."""
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        """The `preflight` object of results.json (schemas/conformance-results.json, load-results.json)."""
        return {
            "ran": self.ran,
            "verdict": "skipped" if not self.ran else ("ok" if self.ok else "failed"),
            "problem": self.problem,
            "message": self.message,
            "requests": len(self.checks),
            "duration_s": round(self.duration_s, 3),
            "key_env": self.key_env,
            "key_set": self.key_set,
            "models_offered": self.models_offered,
            "suggestion": self.suggestion,
            "checks": [c.to_dict() for c in self.checks],
        }


class PreflightFailed(ConfigError):
    """The target cannot be tested as configured; the message says what to fix (exit 2)."""

    def __init__(self, result: PreflightResult) -> None:
        super().__init__(result.message)
        self.result = result


def skipped(api_key_env: str, api_key: str | None) -> PreflightResult:
    """The findings of a run started with --no-preflight."""
    return PreflightResult(
        ran=False, message="preflight skipped (--no-preflight)", key_env=api_key_env, key_set=bool(api_key)
    )


def inert(text: str, redactor: Redactor, limit: int = SNIPPET_CHARS) -> str:
    """Server text made safe to show: redacted, control characters escaped, cut to `limit` characters."""
    out = one_line(redactor.text(text))  # the escaping policy of every output: maascheck.core.inert
    return out if len(out) <= limit else out[: limit - 1] + "…"


class _Prober:
    """Makes the preflight's requests, each bounded, and remembers them as checks."""

    def __init__(self, target: PreflightTarget, transport: httpx.BaseTransport | None, deadline_s: float) -> None:
        self.target = target
        self.redactor = Redactor([target.api_key])
        self.checks: list[Check] = []
        self.t_end = time.monotonic() + deadline_s
        headers = {"Accept": "application/json"}
        if target.api_key:
            headers["Authorization"] = f"Bearer {target.api_key}"
        self.client = httpx.Client(
            headers=headers,
            follow_redirects=False,  # the key never goes anywhere but the configured origin
            transport=transport,
            trust_env=False,
        )

    def close(self) -> None:
        self.client.close()

    def remaining(self) -> float:
        return self.t_end - time.monotonic()

    def request(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[Check, bytes]:
        """One bounded request; a 429/503 asking for at most `SHORT_WAIT_S` is waited out and sent once more."""
        check, data = self._once(method, url, body)
        if check.status in (429, 503) and len(self.checks) < MAX_REQUESTS - 2:
            wait = retry_after_seconds(check.note or None)
            if wait is not None and wait <= SHORT_WAIT_S and wait < self.remaining() - 1:
                time.sleep(wait)
                check, data = self._once(method, url, body)
        return check, data

    def _once(self, method: str, url: str, body: dict[str, Any] | None = None) -> tuple[Check, bytes]:
        """One bounded request; the check records status or the transport failure."""
        check = Check(method, url)
        self.checks.append(check)
        left = max(self.remaining(), 0.1)
        timeout = httpx.Timeout(min(READ_TIMEOUT_S, left), connect=min(CONNECT_TIMEOUT_S, left))
        t0 = time.monotonic()
        data = b""
        try:
            with self.client.stream(method, url, json=body, timeout=timeout) as resp:
                check.status = resp.status_code
                for piece in resp.iter_raw():
                    data += piece
                    if len(data) >= MAX_BODY_BYTES or time.monotonic() > self.t_end:
                        break
                if 300 <= resp.status_code < 400:
                    check.outcome = "redirect"
                    check.note = inert(resp.headers.get("location", ""), self.redactor)
                elif resp.status_code == 429 or resp.status_code == 503:
                    check.note = inert(resp.headers.get("retry-after", ""), self.redactor)
        except httpx.ConnectError as exc:
            check.outcome = "tls_error" if _is_tls(exc) else "connect_error"
            check.note = inert(str(exc), self.redactor)
        except httpx.TimeoutException as exc:
            check.outcome = "timeout"
            check.note = f"no answer within {min(READ_TIMEOUT_S, left):g} s ({type(exc).__name__})"
        except httpx.HTTPError as exc:
            check.outcome = "connect_error"
            check.note = inert(f"{type(exc).__name__}: {exc}", self.redactor)
        check.elapsed_ms = (time.monotonic() - t0) * 1e3
        return check, data[:MAX_BODY_BYTES]


def _is_tls(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        name = type(seen).__name__
        if "SSL" in name or "ssl" in str(seen).lower() or "certificate" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _json(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None


def _error_text(data: bytes) -> str:
    """The error message of an OpenAI error envelope (`ErrorResponse.error.message`), else the raw text."""
    doc = _json(data)
    if isinstance(doc, dict):
        err = doc.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            return err
        if isinstance(doc.get("message"), str):
            return str(doc["message"])
    return data.decode("utf-8", "replace")


def _names_model(data: bytes, model: str) -> bool:
    """Whether an error answer is about the model (`code` model_not_found, `param` model, or its name)."""
    doc = _json(data)
    err = doc.get("error") if isinstance(doc, dict) else None
    if isinstance(err, dict) and (err.get("code") == "model_not_found" or err.get("param") == "model"):
        return True
    text = _error_text(data).lower()
    return bool(model) and model.lower() in text and ("model" in text)


def _model_ids(data: bytes) -> list[str] | None:
    """Model ids of a `ListModelsResponse` (`data[].id`), None when the body is not one."""
    doc = _json(data)
    items = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return None
    return [str(m["id"]) for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]


def _split(base_url: str) -> tuple[str, str]:
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", "")), parts.path.rstrip("/")


def _alternatives(base_url: str, profile_base_path: str) -> list[str]:
    """Other base URLs on the same origin: the profile's documented base path, then `/v1`."""
    origin, path = _split(base_url)
    out: list[str] = []
    for candidate in (profile_base_path.rstrip("/"), "/v1"):
        if candidate and candidate != path and origin + candidate not in out:
            out.append(origin + candidate)
    return out


def _body(target: PreflightTarget) -> dict[str, Any]:
    if target.chat_style:
        return {"model": target.model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1,
                "stream": False}  # fmt: skip
    return {"model": target.model, "prompt": "ping", "max_tokens": 1, "stream": False}


def run_preflight(
    target: PreflightTarget,
    *,
    transport: httpx.BaseTransport | None = None,
    deadline_s: float = DEADLINE_S,
) -> PreflightResult:
    """Classify `target` with at most `MAX_REQUESTS` requests; the result says ok or what to fix."""
    t0 = time.monotonic()
    prober = _Prober(target, transport, deadline_s)
    result = PreflightResult(key_env=target.api_key_env, key_set=bool(target.api_key))
    try:
        _classify(target, prober, result)
    finally:
        prober.close()
        result.checks = prober.checks
        result.duration_s = time.monotonic() - t0
    return result


def _classify(target: PreflightTarget, prober: _Prober, result: PreflightResult) -> None:
    base = target.base_url.rstrip("/")
    models_check, models_body = prober.request("GET", base + "/models")
    if _transport_problem(models_check, result, base):
        return
    if models_check.status == 200:
        result.models_offered = _model_ids(models_body)
    if _status_problem(models_check, models_body, target, result, prober):
        return
    gen_check, gen_body = prober.request("POST", base + target.generate_path, _body(target))
    if _transport_problem(gen_check, result, base):
        return
    if _status_problem(gen_check, gen_body, target, result, prober):
        return
    offered = result.models_offered
    unlisted = offered is not None and target.model not in offered
    if gen_check.status == 404 and (_names_model(gen_body, target.model) or (unlisted and models_check.status == 200)):
        _model_problem(target, result, prober, gen_body)
        return
    if gen_check.status in (400, 422) and unlisted and _names_model(gen_body, target.model):
        _model_problem(target, result, prober, gen_body)
        return
    if gen_check.status == 404 and models_check.status == 404:
        _path_problem(target, result, prober)


def _transport_problem(check: Check, result: PreflightResult, base: str) -> bool:
    if check.outcome == "connect_error":
        result.problem = "unreachable"
        result.message = (
            f"preflight: cannot reach {base} ({check.note}); check --base-url (scheme, host and port) "
            "and that the server is running, e.g. --base-url http://127.0.0.1:8000/v1"
        )
    elif check.outcome == "tls_error":
        result.problem = "tls"
        result.message = (
            f"preflight: the TLS handshake with {base} failed ({check.note}); check the scheme "
            "(http:// for a plain-text server) and the server's certificate"
        )
    elif check.outcome == "timeout":
        result.problem = "no_answer"
        result.message = (
            f"preflight: {check.method} {check.url} got no answer ({check.note}); the server accepts "
            "connections but does not respond: check it is an OpenAI-compatible endpoint and is not overloaded"
        )
    elif check.outcome == "redirect":
        result.problem = "redirect"
        result.message = (
            f"preflight: {check.method} {check.url} answered {check.status} redirecting to "
            f"{check.note or '(no Location)'}; redirects are not followed (the key goes only to the "
            "configured origin): pass the final URL as --base-url"
        )
    return result.problem is not None


def _status_problem(
    check: Check, body: bytes, target: PreflightTarget, result: PreflightResult, prober: _Prober
) -> bool:
    if check.status in (401, 403):
        said = inert(_error_text(body), prober.redactor)
        if not target.api_key:
            result.problem = "key_missing"
            result.message = (
                f"preflight: no API key: environment variable {target.api_key_env} is unset or empty and "
                f"{check.method} {check.url} answered {check.status} ({said}); set it "
                f"(export {target.api_key_env}=...) or name another variable with --api-key-env"
            )
        else:
            result.problem = "key_refused"
            result.message = (
                f"preflight: the API key in {target.api_key_env} was refused: {check.method} {check.url} "
                f"answered {check.status} ({said}); check the key is valid for this endpoint and model "
                "(the key is never printed)"
            )
        return True
    if check.status == 429:
        after = f"; Retry-After: {check.note}" if check.note else ""
        result.problem = "rate_limited"
        result.message = (
            f"preflight: rate limited: {check.method} {check.url} answered 429{after} "
            f"({inert(_error_text(body), prober.redactor)}); wait and retry, or raise the key's quota"
        )
        return True
    return False


def _model_problem(target: PreflightTarget, result: PreflightResult, prober: _Prober, body: bytes) -> None:
    result.problem = "model_not_served"
    offered = result.models_offered
    if offered:
        listed = ", ".join(offered[:MODELS_LISTED]) + (" …" if len(offered) > MODELS_LISTED else "")
        hint = f"GET /models offers: {listed}; e.g. --model {offered[0]}"
    else:
        hint = "GET /models listed none; check the provider's model names"
    result.message = (
        f"preflight: model {target.model!r} is not served "
        f"({inert(_error_text(body), prober.redactor)}); {hint}"
    )


def _path_problem(target: PreflightTarget, result: PreflightResult, prober: _Prober) -> None:
    result.problem = "wrong_path"
    answering: str | None = None
    for alt in _alternatives(target.base_url, target.profile_base_path):
        if len(prober.checks) >= MAX_REQUESTS or prober.remaining() <= 0:
            break
        check, _ = prober.request("POST", alt + target.generate_path, _body(target))
        if check.outcome == "answered" and check.status != 404:
            answering = alt
            break
    tried = ", ".join(f"{c.method} {c.url}" for c in prober.checks[:2])
    if answering:
        result.suggestion = answering
        result.message = (
            f"preflight: every request was 404 ({tried}): did you mean --base-url {answering}? "
            f"(it answers {prober.checks[-1].status})"
        )
    else:
        result.message = (
            f"preflight: every request was 404 ({tried}), also below "
            f"{', '.join(_alternatives(target.base_url, target.profile_base_path)) or 'no other path'}; "
            "check --base-url: it is the prefix before /chat/completions, e.g. http://127.0.0.1:8000/v1"
        )


def check_target(
    base_url: str,
    model: str,
    *,
    api_key_env: str,
    profile: str = "openai",
    generate_path: str = "/chat/completions",
    enabled: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> PreflightResult:
    """The preflight of a run about to start (skipped when not `enabled`); PreflightFailed when it cannot.

    The key is read from `api_key_env` (never taken as an argument), the alternative base path from
    the profile's documented `base_path`.
    """
    from maascheck.core.profiles import load_profile
    from maascheck.core.secrets import read_api_key

    api_key = read_api_key(api_key_env)
    if not enabled:
        return skipped(api_key_env, api_key)
    target = PreflightTarget(
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        api_key=api_key,
        profile_base_path=load_profile(profile).base_path,
        generate_path=generate_path,
        chat_style=generate_path != "/completions",
    )
    result = run_preflight(target, transport=transport)
    if not result.ok:
        raise PreflightFailed(result)
    return result


def write_findings(result: PreflightResult, report_dir: Path) -> Path:
    """Keep the findings as `preflight.json` in the report dir (for the run's process, and the user)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / FINDINGS_FILE
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def read_findings(path: str) -> dict[str, Any] | None:
    """The findings `write_findings` kept at `path` (None when unreadable)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None

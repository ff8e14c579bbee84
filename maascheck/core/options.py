"""One option table per command: every face, the validation and the reproduce line come from one declaration.

An `Option` names a command-line option once (`name` is the flag without dashes, the same on every face),
with its help, its parsed default, a `Kind` that turns text into a value, and an example. An
`OptionTable` (one per command: conformance, load, sweep) registers the options on argparse
(`maascheck <command>`), on pytest (`--maascheck-NAME`, plus `--NAME` when free) and on Locust
(`--NAME`, or Locust's own option when `locust_dest` names one), and `resolve`s what any face parsed:
given value, else the `MAASCHECK_<NAME>` environment variable, else the default; every bad value is
reported in one `ConfigError` (exit 2) whose text is the same on every face. `reproduce` writes the
command that repeats a run from its resolved values.

To add an option to a command, append an `Option` to that command's table; nothing else changes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from maascheck.core.errors import ConfigError

ENV_PREFIX = "MAASCHECK_"
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Kind:
    """How an option's text becomes its value: `parse` raises ValueError (or ConfigError with detail)."""

    parse: Callable[[str], Any]
    valid: str
    show: Callable[[Any], str] = str


def _num(v: float) -> str:
    return f"{v:g}"


TEXT = Kind(str, "any text")


def integer(minimum: int | None = None) -> Kind:
    """A whole number, at least `minimum` when given."""

    def parse(text: str) -> int:
        value = int(text)
        if minimum is not None and value < minimum:
            raise ValueError(text)
        return value

    return Kind(parse, "a whole number" + (f" >= {minimum}" if minimum is not None else ""))


def number(minimum: float | None = None, *, above: bool = False, maximum: float | None = None) -> Kind:
    """A finite number: `>= minimum` (or `> minimum` with `above`), `<= maximum` when given."""

    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise ValueError(text)
        if maximum is not None and value > maximum:
            raise ValueError(text)
        return value

    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if above else '>='} {minimum:g}")
    if maximum is not None:
        bounds.append(f"<= {maximum:g}")
    return Kind(parse, "a number" + (" " + " and ".join(bounds) if bounds else ""), _num)


_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?")


def parse_duration(text: str) -> float:
    """Seconds from ``30``, ``30s``, ``1.5s``, ``2m``, ``1h``, ``1m30s`` (ValueError otherwise)."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise ValueError(text)
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def duration(minimum: float = 0.0, *, above: bool = False) -> Kind:
    """A duration in seconds with optional units (`30`, `30s`, `2m`, `1m30s`, `1h`)."""

    def parse(text: str) -> float:
        value = parse_duration(text)
        if value < minimum or (above and value <= minimum):
            raise ValueError(text)
        return value

    bound = f"{'>' if above else '>='} {minimum:g} s"
    return Kind(parse, f"a duration {bound} (30, 30s, 1.5s, 2m, 1m30s, 1h)", lambda v: f"{v:g}s")


def choice(*values: str) -> Kind:
    """One of `values`."""

    def parse(text: str) -> str:
        if text not in values:
            raise ValueError(text)
        return text

    return Kind(parse, "one of " + ", ".join(values))


def _url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(text)
    return text.rstrip("/")


URL = Kind(_url, "an http:// or https:// URL")


@dataclass(frozen=True)
class Option:
    """One option of a command, declared once for every face that accepts it."""

    name: str
    help: str
    kind: Kind = TEXT
    default: Any = None
    example: str = ""
    flag: bool = False
    repeat: bool = False
    required: bool = False
    aliases: tuple[str, ...] = ()  # hidden old spellings, accepted and never shown
    env: bool = True  # MAASCHECK_<NAME> is the fallback when the option is not given
    reproduce: bool = True  # part of the command that repeats the run (when not the default)
    metavar: str = ""
    group: str = ""
    pytest_short: bool = True  # register `--NAME` on pytest too when no other plugin owns it
    locust_dest: str = ""  # Locust's own option carries it natively (e.g. "host", "num_users")
    locust: bool = True  # accepted by the native Locust face
    cli: bool = True  # accepted by `maascheck <command>`
    hidden: bool = False  # accepted, never shown in help

    @property
    def dest(self) -> str:
        """The attribute name of the value: `stall-timeout` -> `stall_timeout`."""
        return self.name.replace("-", "_")

    @property
    def flag_name(self) -> str:
        """`--stall-timeout`."""
        return f"--{self.name}"

    @property
    def env_var(self) -> str:
        """`MAASCHECK_STALL_TIMEOUT`."""
        return ENV_PREFIX + self.dest.upper()

    def show(self, value: Any) -> str:
        """The value as it is written on a command line."""
        return self.kind.show(value)

    def help_text(self, *, env: bool = False) -> str:
        """The help line, with the default and (on faces that read it) the environment variable."""
        text = self.help
        if self.kind.valid.startswith("one of "):
            text += f": {self.kind.valid}"
        if self.default not in (None, False, [], "") and not self.flag:
            text += f" (default {self.show(self.default)})"
        if env and self.env:
            text += f" [env {self.env_var}]"
        return text.replace("%", "%%")

    def problem(self, raw: Any, detail: str = "") -> str:
        """What is wrong, what is valid and an example, for a bad `raw` value."""
        example = f"; e.g. {self.flag_name} {self.example}" if self.example and "e.g." not in detail else ""
        if detail.startswith(self.flag_name):
            return detail + example
        return f"{self.flag_name} {str(raw)!r}: {detail or 'expected ' + self.kind.valid}{example}"

    def parse(self, raw: str) -> Any:
        """The value of one given text (ConfigError naming the option when it is not valid)."""
        try:
            return self.kind.parse(raw)
        except ConfigError as exc:
            raise ConfigError(self.problem(raw, str(exc))) from None
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(self.problem(raw)) from None


class Values(Mapping[str, Any]):
    """The resolved values of one command, by option dest (also as attributes: `values.base_url`)."""

    def __init__(self, data: Mapping[str, Any], given: frozenset[str] = frozenset()) -> None:
        self._data = dict(data)
        self.given = given  # dests given on the command line or by the environment

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> Values:
        """A copy with `changes` applied."""
        return Values({**self._data, **changes}, self.given | frozenset(changes))


Check = Callable[[Values], str | None]


@dataclass(frozen=True)
class OptionTable:
    """The options of one command, and the checks that relate several of them."""

    command: str
    options: tuple[Option, ...]
    checks: tuple[Check, ...] = field(default=())

    def __post_init__(self) -> None:
        names = [o.name for o in self.options]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate option in the {self.command} table: {names}")

    def __getitem__(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        raise KeyError(name)

    def default(self, name: str) -> Any:
        """The one default of option `name`."""
        return self[name].default

    def extended(self, *options: Option, checks: Sequence[Check] = ()) -> OptionTable:
        """This table with more options (a later option of the same name replaces the earlier one)."""
        new = {o.name: o for o in options}
        kept = tuple(new.pop(o.name, o) for o in self.options)
        return replace(self, options=kept + tuple(new.values()), checks=self.checks + tuple(checks))

    def without(self, *names: str) -> OptionTable:
        """This table without the named options."""
        return replace(self, options=tuple(o for o in self.options if o.name not in names))

    # --- faces -------------------------------------------------------------------------------------------
    def add_to_argparse(self, parser: argparse.ArgumentParser) -> None:
        """Register every option on an argparse parser (values stay raw until `resolve`)."""
        groups: dict[str, Any] = {}
        for opt in self.options:
            if not opt.cli:
                continue
            target: Any = parser
            if opt.group:
                target = groups.setdefault(opt.group, parser.add_argument_group(opt.group))
            kwargs = _argparse_kwargs(opt)
            target.add_argument(
                opt.flag_name, dest=opt.dest, help=argparse.SUPPRESS if opt.hidden else opt.help_text(), **kwargs
            )
            for alias in opt.aliases:
                target.add_argument(f"--{alias}", dest=opt.dest, help=argparse.SUPPRESS, **kwargs)

    def add_to_pytest(self, group: Any, prefix: str = "maascheck_") -> None:
        """Register every option on a pytest option group: `--maascheck-NAME`, and `--NAME` when free."""
        for opt in self.options:
            kwargs = _argparse_kwargs(opt)
            kwargs["dest"] = prefix + opt.dest
            kwargs["help"] = argparse.SUPPRESS if opt.hidden else opt.help_text(env=True)
            long = f"--{prefix.replace('_', '-')}{opt.name}"
            names = [long, *(f"--{prefix.replace('_', '-')}{a}" for a in opt.aliases)]
            if opt.pytest_short:
                try:
                    group.addoption(opt.flag_name, *names, **kwargs)
                    continue
                except ValueError:  # another plugin owns the short name
                    pass
            group.addoption(*names, **kwargs)

    def add_to_locust(self, group: Any) -> None:
        """Register the options Locust does not carry itself on Locust's (configargparse) parser."""
        for opt in self.options:
            if opt.locust_dest or not opt.locust:
                continue
            kwargs = _argparse_kwargs(opt)
            hidden = opt.hidden
            group.add_argument(
                opt.flag_name, dest=opt.dest, help=argparse.SUPPRESS if hidden else opt.help_text(env=True), **kwargs
            )
            for alias in opt.aliases:
                group.add_argument(f"--{alias}", dest=opt.dest, help=argparse.SUPPRESS, **kwargs)

    def raw_from(self, namespace: Any, prefix: str = "", *, locust: bool = False) -> dict[str, Any]:
        """The raw values a face parsed, by dest (None when not given)."""
        out: dict[str, Any] = {}
        for opt in self.options:
            if locust and not opt.locust:
                continue
            attr = opt.locust_dest if locust and opt.locust_dest else prefix + opt.dest
            out[opt.dest] = getattr(namespace, attr, None)
        return out

    # --- values ------------------------------------------------------------------------------------------
    def resolve(self, raw: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Values:
        """Given value, else MAASCHECK_<NAME>, else the default; ConfigError listing every bad value."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        given: set[str] = set()
        problems: list[str] = []
        for opt in self.options:
            value = raw.get(opt.dest)
            if value in (None, False, []) and opt.env and env.get(opt.env_var):
                text = env[opt.env_var]
                value = text.lower() in _TRUE if opt.flag else ([text] if opt.repeat else text)
            if value is None or (opt.flag and value is False) or (opt.repeat and value == []):
                if opt.required:
                    example = f" {opt.example}" if opt.example else ""
                    native = f" (native locust: --{opt.locust_dest})" if opt.locust_dest else ""
                    problems.append(f"{opt.flag_name} is required{native}; e.g. {opt.flag_name}{example}")
                values[opt.dest] = (
                    list(opt.default or []) if opt.repeat else bool(opt.default) if opt.flag else opt.default
                )
                continue
            given.add(opt.dest)
            try:
                if opt.flag:
                    values[opt.dest] = bool(value)
                elif opt.repeat:
                    values[opt.dest] = [opt.parse(str(v)) for v in value]
                else:
                    values[opt.dest] = opt.parse(str(value))
            except ConfigError as exc:
                problems.append(str(exc))
                values[opt.dest] = opt.default
        if problems:
            raise ConfigError("; ".join(problems))
        out = Values(values, frozenset(given))
        for check in self.checks:
            problem = check(out)
            if problem:
                problems.append(problem)
        if problems:
            raise ConfigError("; ".join(problems))
        return out

    def argv(self, values: Mapping[str, Any], prefix: str = "--", *, only_given: bool = False) -> list[str]:
        """The options that give `values` (those differing from the default, or all given ones)."""
        given: frozenset[str] = getattr(values, "given", frozenset())
        out: list[str] = []
        for opt in self.options:
            value = values.get(opt.dest)
            if only_given and opt.dest not in given:
                continue
            if not only_given and (value == opt.default or value in (None, False, [])):
                continue
            flag = prefix + opt.name
            if opt.flag:
                if value:
                    out.append(flag)
            elif opt.repeat:
                for v in value or []:
                    out += [flag, opt.show(v)]
            elif value is not None:
                out += [flag, opt.show(value)]
        return out

    def reproduce(self, values: Mapping[str, Any], *, extra: Sequence[str] = ()) -> str:
        """The `maascheck <command>` line that repeats a run (options that differ from their defaults)."""
        kept = {o.dest: values.get(o.dest) for o in self.options if o.reproduce}
        required = [o for o in self.options if o.required and o.reproduce]
        parts = ["maascheck", self.command]
        for opt in required:  # required options first and always, for a readable line
            parts += [opt.flag_name, opt.show(kept.pop(opt.dest))]
        rest = [o for o in self.options if o.reproduce and not o.required]
        parts += replace(self, options=tuple(rest)).argv(kept)
        if extra:
            parts += ["--", *extra]
        return shlex.join(parts)


def _argparse_kwargs(opt: Option) -> dict[str, Any]:
    if opt.flag:
        return {"action": "store_true", "default": None}
    kwargs: dict[str, Any] = {"default": None, "metavar": opt.metavar or opt.name.upper().replace("-", "_")}
    if opt.repeat:
        kwargs["action"] = "append"
    return kwargs


# --- options several commands share (one declaration each) --------------------------------------------------
def _profile(text: str) -> str:
    from maascheck.core.profiles import load_profile  # raises ConfigError naming the known profiles

    load_profile(text)
    return text


def _key_env(text: str) -> str:
    from maascheck.core.secrets import read_api_key  # raises ConfigError saying what a variable name is

    read_api_key(text)
    return text


def _writable_dir(text: str) -> str:
    """A folder maascheck can create or write into (checked before any request; nothing is created here)."""
    from pathlib import Path

    path = Path(text).expanduser()
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise ConfigError(f"{str(probe)!r} exists and is not a folder")
    if not os.access(probe if probe.exists() else Path.cwd(), os.W_OK | os.X_OK):
        raise ConfigError(f"{str(probe)!r} is not writable; valid: a folder you can write into")
    return text


PROFILE_KIND = Kind(_profile, "a shipped profile name or a path to a profile .json")
KEY_ENV_KIND = Kind(_key_env, "an environment variable name (letters, digits, underscores)")
WRITABLE_DIR = Kind(_writable_dir, "a folder you can write into")

BASE_URL = Option(
    "base-url", "endpoint base URL", URL, required=True, example="http://127.0.0.1:8000/v1", metavar="URL"
)
MODEL = Option("model", "model under test", required=True, example="sim-chat", metavar="NAME")
PROFILE = Option(
    "profile", "provider profile name or .json path", PROFILE_KIND, "openai", example="bailian", metavar="NAME"
)


def _default_key_env() -> str:
    from maascheck.core.secrets import DEFAULT_KEY_ENV

    return DEFAULT_KEY_ENV


API_KEY_ENV = Option(
    "api-key-env",
    "environment variable holding the API key",
    KEY_ENV_KIND,
    _default_key_env(),
    example="MY_PROVIDER_KEY",
    metavar="VAR",
)
SEED = Option("seed", "seed for generated requests", integer(0), 0, example="7", metavar="N")
REPORT_DIR = Option("report-dir", "report folder", WRITABLE_DIR, example="reports/mine", metavar="DIR")
OVERWRITE = Option(
    "overwrite", "write into a report folder that holds another run's results (refused otherwise)", flag=True
)

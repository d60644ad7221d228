"""``pixverse-contract``: check a client in any language, or a server, against the PixVerse v1 contract.

``verify`` reads the mock's request journal after a client ran against it (over HTTP from a running
mock, or from a JSON file saved from ``GET /__mock/journal/requests``) and judges the client
properties that can be seen from traffic alone (:data:`contract_tests.properties.PROPERTIES`). It
prints a console summary and can write JUnit XML and Markdown; it exits 1 on any violation.

``conformance`` sends schemathesis-generated requests to a server (the mock, or the real API when
you opt in) and checks every answer against the vendor spec, so drift between mock and vendor shows
up as a failing check. Read-only operations by default; ``--include-writes`` adds the POSTs, the
DELETE and the cancels.

Exit codes of both: 0 clean, 1 violations or failed checks, 2 usage or input/output errors.
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import click
import requests

from contract_tests.properties import PROPERTIES
from contract_tests.properties import Violation
from contract_tests.properties import judge
from mock_server.accounts import digest
from mock_server.control.access import CONTROL_TOKEN_HEADER
from mock_server.redaction import Redactor

JOURNAL_PATH = "/__mock/journal/requests"
PAGE_SIZE = 1000
HTTP_TIMEOUT = 30.0
MAX_CURL_CHARS = 300
READ_ONLY_OPERATIONS = ("listAccounts", "getAccount", "getJob")
"""The operations ``conformance`` runs by default: they read and never change anything."""
OPERATION_ORDER = ("listAccounts", "getAccount", "postCreate", "postCreateSingle", "postAnimate", "postMemeFace",
                   "postButton", "getJob", "cancelJob", "postAccount", "deleteAccount")
"""Reads that discover channels first, submits before the job reads that reuse their job ids, deletes last."""
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


NO_TOKEN = "(no token)"
"""The tenant the tokenless requests are judged as when no client owns them."""


class InputError(click.ClickException):
    """A usage or input/output problem: a one-line message and exit code 2 (never a traceback)."""

    exit_code = 2


class ControlTokenNeeded(InputError):
    """The mock's control plane refused the request (401): ``--control-token`` is missing or wrong."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pixverse-mock", prog_name="pixverse-contract", message="%(prog)s %(version)s")
def main() -> None:
    """Check a PixVerse v1 client (from the mock's journal) or a server (against the spec)."""


# --- verify: the client properties, judged from the journal ------------------------------------------


@dataclass
class Journal:
    """The request journal entries to judge, and where they came from."""

    entries: list[dict[str, Any]]
    source: str
    anonymous: int = 0
    notes: list[str] = field(default_factory=list)


@main.command()
@click.option("--from", "source", required=True, metavar="URL_OR_FILE",
              help="A running mock (http://127.0.0.1:8080) or a JSON file saved from GET /__mock/journal/requests.")
@click.option("--token", default=None, metavar="T",
              help="Judge only this API token's traffic (plus the requests that carried no token).")
@click.option("--only", "only", multiple=True, type=click.Choice(list(PROPERTIES)), metavar="PROPERTY",
              help="Judge only this property (repeatable).")
@click.option("--control-token", envvar="PIXVERSE_MOCK_CONTROL_TOKEN", default=None, metavar="C",
              help="The mock's control token (X-Mock-Control-Token), needed to read its whole journal when the "
                   "mock is not on loopback (default: $PIXVERSE_MOCK_CONTROL_TOKEN).")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Write JUnit XML here.")
@click.option("--markdown", type=click.Path(dir_okay=False, writable=True), help="Write a Markdown report here.")
@click.option("--save", type=click.Path(dir_okay=False, writable=True),
              help="Write the journal that was read to this JSON file (to verify again later with --from).")
def verify(source: str, token: str | None, only: tuple[str, ...], control_token: str | None, junit: str | None,
           markdown: str | None, save: str | None) -> None:
    """Judge a client's traffic from the mock's request journal.

    Run your client (any language) against the mock first, then point this at the mock or a saved
    journal. Exit 0 when every property holds, 1 on violations, 2 on usage or input errors.
    """
    journal = read_journal(source, token, control_token)
    if save:
        _write_text(save, json.dumps({"entries": journal.entries, "last": _last_seq(journal.entries)},
                                     ensure_ascii=False, indent=1))
    if not journal.entries:
        raise InputError(f"no requests to judge in {journal.source}"
                         + (" for this --token" if token else "") + " (did the client run against this mock?)")
    names = list(only) or list(PROPERTIES)
    violations = judge(attribute_anonymous(journal, token), only=names)
    by_property = {name: [v for v in violations if v.property == name] for name in names}
    redact = Redactor([token, control_token]).text  # the reports never carry a full token
    click.echo(redact(console_summary(journal, by_property)))
    if junit:
        write_junit(junit, "pixverse-contract",
                    [(name, [redact(str(v)) for v in vs]) for name, vs in by_property.items()])
    if markdown:
        _write_text(markdown, redact(markdown_report(journal, by_property)))
    sys.exit(1 if violations else 0)


def read_journal(source: str, token: str | None, control_token: str | None = None) -> Journal:
    """The journal from a mock URL (all pages) or a saved file, narrowed to ``token`` (and tokenless requests).

    A mock off loopback shows the tokenless requests only with its ``control_token``; without it
    they are left out, and a note says so.
    """
    notes: list[str] = []
    if source.startswith(("http://", "https://")):
        root = mock_root(source)
        entries = fetch_journal(root, token, control_token)
        if token:
            try:
                anonymous = fetch_journal(root, None, control_token)
            except ControlTokenNeeded:
                anonymous = []
                notes.append("requests without a token not read: the mock's journal shows them only with "
                             "--control-token")
            entries = _merge(entries, [e for e in anonymous if e.get("tenant") is None])
        where = f"{root}{JOURNAL_PATH}"
    else:
        entries = load_journal_file(source)
        where = source
    if token:
        entries = [e for e in entries if e.get("tenant") in (None, _tenant(token))]
    anonymous = sum(1 for e in entries if e.get("tenant") is None)
    return Journal(entries, where, anonymous, notes)


def mock_root(url: str) -> str:
    """``http://host:port`` from a mock URL given with or without ``/v1`` or a ``/__mock/...`` path."""
    root = url.split("/__mock", 1)[0].rstrip("/")
    return root.removesuffix("/v1").rstrip("/")


def fetch_journal(root: str, token: str | None, control_token: str | None = None) -> list[dict[str, Any]]:
    """Every page of ``GET /__mock/journal/requests`` (``since`` = the previous page's ``last``)."""
    entries: list[dict[str, Any]] = []
    since = 0
    with requests.Session() as session:
        if control_token:
            session.headers[CONTROL_TOKEN_HEADER] = control_token
        while True:
            params: dict[str, Any] = {"since": since, "limit": PAGE_SIZE}
            if token:
                params["token"] = token
            page = _get_page(session, f"{root}{JOURNAL_PATH}", params)
            batch = page.get("entries") or []
            entries.extend(batch)
            last = page.get("last", since)
            if not batch or not isinstance(last, int) or last <= since:
                return entries
            since = last


def _get_page(session: requests.Session, url: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        response = session.get(url, params=params, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise InputError(f"cannot read the journal from {url}: {type(exc).__name__}: {_first_line(exc)}") from None
    if response.status_code != 200:
        error = ControlTokenNeeded if response.status_code == 401 else InputError
        raise error(f"cannot read the journal from {url}: HTTP {response.status_code} "
                    f"{_first_line(response.text)}")
    try:
        page = response.json()
    except ValueError:
        raise InputError(f"{url} did not answer JSON: is it a pixverse-mock?") from None
    if not isinstance(page, dict) or not isinstance(page.get("entries"), list):
        raise InputError(f"{url} did not answer a journal page ({{'entries': [...], 'last': n}})")
    return page


def load_journal_file(path: str) -> list[dict[str, Any]]:
    """Entries from a file holding ``{"entries": [...]}`` (as the endpoint answers) or a bare list."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read journal file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InputError(f"journal file {path} is not JSON: {_first_line(exc)}") from None
    entries = data.get("entries") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise InputError(f"journal file {path} holds neither {{'entries': [...]}} nor a list of entries")
    return entries


def attribute_anonymous(journal: Journal, token: str | None) -> list[dict[str, Any]]:
    """Entries with the tokenless requests counted as the client's own, when the client is known.

    A request without a usable bearer token (a forgotten header, or an attachment download, which
    needs none) belongs to no token in the journal. With ``--token``, or when only one token appears,
    it is this client's: judging it with the client's traffic keeps a download from looking missing.
    """
    tenants = {e.get("tenant") for e in journal.entries} - {None}
    owner = _tenant(token) if token else (next(iter(tenants)) if len(tenants) == 1 else None)
    if owner is None:
        if journal.anonymous and tenants:
            journal.notes.append(f"{journal.anonymous} request(s) without a token judged apart from the "
                                 f"{len(tenants)} tokens (use --token to judge them with one client)")
        owner = NO_TOKEN  # one client of their own, not a share of every token's traffic
    return [e if e.get("tenant") is not None else {**e, "tenant": owner} for e in journal.entries]


def console_summary(journal: Journal, by_property: dict[str, list[Violation]]) -> str:
    """One PASS/FAIL line per property, then every violation, then a totals line."""
    lines = [f"pixverse-contract verify: {len(journal.entries)} requests from {journal.source}"
             + (f" ({journal.anonymous} without a token)" if journal.anonymous else "")]
    lines += [f"note: {note}" for note in journal.notes]
    width = max(len(name) for name in by_property)
    for name, found in by_property.items():
        lines.append(f"{'FAIL' if found else 'PASS'}  {name:<{width}}  {len(found)} violation(s)")
    violations = [v for found in by_property.values() for v in found]
    if violations:
        lines.append("")
        lines.append("Violations:")
        lines += [f"  - {v}" for v in sorted(violations, key=lambda v: (v.seq or 0, v.property))]
    failed = sum(1 for found in by_property.values() if found)
    lines.append("")
    lines.append(f"{len(by_property)} properties: {len(by_property) - failed} passed, {failed} failed "
                 f"({len(violations)} violation(s))")
    return "\n".join(lines)


def markdown_report(journal: Journal, by_property: dict[str, list[Violation]]) -> str:
    """A table property | result | violations, then each failed property's details."""
    lines = ["# pixverse-contract verify", "",
             f"{len(journal.entries)} requests judged from `{journal.source}`.", "",
             "| property | result | violations |", "| --- | --- | --- |"]
    lines += [f"| `{name}` | {'❌ FAIL' if vs else '✅ PASS'} | {len(vs)} |" for name, vs in by_property.items()]
    failed = {name: found for name, found in by_property.items() if found}
    if failed:
        lines += ["", "## Details"]
    for name, found in failed.items():
        lines += ["", f"### `{name}`", "", _md(PROPERTIES[name]), ""]
        lines += [f"- {_md(v.message)}" + (f" (request #{v.seq})" if v.seq is not None else "") for v in found]
    return "\n".join(lines) + "\n"


def write_junit(path: str, suite: str, cases: Iterable[tuple[str, list[str]]], *,
                failure_type: str = "ContractViolation") -> None:
    """One ``testsuite`` named ``suite``, one ``testcase`` per name, a ``failure`` listing its messages."""
    cases = list(cases)
    failures = sum(1 for _, messages in cases if messages)
    root = ET.Element("testsuites", name=suite, tests=str(len(cases)), failures=str(failures), errors="0")
    element = ET.SubElement(root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
                            errors="0", skipped="0")
    for name, messages in cases:
        case = ET.SubElement(element, "testcase", classname=suite, name=_xml(name))
        if messages:
            failure = ET.SubElement(case, "failure", type=failure_type,
                                    message=_xml(f"{len(messages)} failure(s): {_first_line(messages[0])}"))
            failure.text = _xml("\n".join(messages))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    try:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _tenant(token: str) -> str:
    """The journal's ``tenant`` of a token (a digest: the journal never holds tokens)."""
    return digest(token)


def _merge(*groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_seq = {e.get("seq"): e for group in groups for e in group}
    return sorted(by_seq.values(), key=lambda e: e.get("seq") or 0)


def _last_seq(entries: list[dict[str, Any]]) -> int:
    return max((e.get("seq") or 0 for e in entries), default=0)


def _write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _xml(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (each shown as its ``repr`` escape instead)."""
    return _XML_INVALID.sub(lambda m: repr(m.group())[1:-1], text)


def _md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0][:300] if text else ""


# --- conformance: a server against the spec, with schemathesis ------------------------------------


@dataclass
class OperationResult:
    """What ``conformance`` found for one operation: the cases sent, statuses seen, distinct failures."""

    label: str
    operation_id: str | None
    cases: int = 0
    statuses: set[int] = field(default_factory=set)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


@dataclass
class Discovered:
    """Values the server handed out that later reads can ask about (real channels and job ids)."""

    channels: list[str] = field(default_factory=list)
    jobids: list[str] = field(default_factory=list)

    def learn(self, operation_id: str | None, status: int, body: Any) -> None:
        if status != 200 or not isinstance(body, dict):
            return
        if operation_id == "listAccounts":
            _add(self.channels, [str(channel) for channel in body])
        if operation_id in ("postMemeFace", "postButton") and isinstance(body.get("jobid"), str):
            _add(self.jobids, [body["jobid"]])


@main.command()
@click.option("--base-url", required=True, metavar="URL",
              help="The server root: http://127.0.0.1:8080 (the mock) or https://api.useapi.net (opt-in).")
@click.option("--token", envvar="PIXVERSE_TOKEN", required=True, metavar="T",
              help="The API token sent as Authorization: Bearer (default: $PIXVERSE_TOKEN).")
@click.option("--spec", type=click.Path(dir_okay=False), default=None,
              help="The OpenAPI document to check against (default: the bundled openapi/pixverse-v1.yaml).")
@click.option("--include-writes", is_flag=True,
              help="Also send the POST submits and account, DELETE account and the cancels (creates jobs!).")
@click.option("--max-examples", type=click.IntRange(1, 10_000), default=20, show_default=True,
              help="Generated cases per operation (on top of the spec's examples).")
@click.option("--jobid", "jobids", multiple=True, metavar="ID",
              help="A job of this token to read back as well (repeatable): checks a real Job answer read-only.")
@click.option("--seed", type=int, default=0, show_default=True, help="Hypothesis seed (runs repeat exactly).")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Write JUnit XML here.")
def conformance(base_url: str, token: str, spec: str | None, include_writes: bool, max_examples: int,
                jobids: tuple[str, ...], seed: int, junit: str | None) -> None:
    """Check a server's answers against the spec with schemathesis (status codes, content types, schemas).

    The same command checks the in-process mock, a mock over HTTP, or the real API; a failed check
    is drift between the server and the spec. Exit 0 when every check passes, 1 on a failed check.
    """
    base_url = base_url.rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise InputError(f"--base-url must be an http(s) URL, not {base_url!r}")
    if include_writes and not _is_loopback(base_url):
        click.echo(f"warning: --include-writes sends POST and DELETE requests to {base_url}", err=True)
    operations = select_operations(load_spec(spec, token), include_writes)
    click.echo(f"pixverse-contract conformance: {len(operations)} operations of {spec or 'the bundled spec'} "
               f"against {base_url} ({'with' if include_writes else 'without'} writes)")
    discovered = Discovered(jobids=list(dict.fromkeys(jobids)))
    results = []
    with requests.Session() as session:
        for operation in operations:
            result = check_operation(operation, session, base_url, token, discovered, max_examples, seed)
            click.echo(_operation_line(result))
            results.append(result)
            if result.error is not None:
                raise InputError(f"cannot reach {base_url}: {result.error}")
    failed = [r for r in results if not r.passed]
    click.echo(f"\n{len(results)} operations: {len(results) - len(failed)} passed, {len(failed)} failed")
    if junit:
        write_junit(junit, "pixverse-conformance",
                    [(r.label, [f"{title}: {message}" for (title, message) in r.failures]) for r in results],
                    failure_type="FailedCheck")
    sys.exit(1 if failed else 0)


def load_spec(spec: str | None, token: str) -> Any:
    """The schemathesis schema (positive generation, the bearer token on every request)."""
    import schemathesis

    from mock_server.resources import vendor_spec_path

    path = Path(spec) if spec else vendor_spec_path()
    config = schemathesis.Config.from_dict({
        "generation": {"mode": "positive"},
        "headers": {"Authorization": f"Bearer {token}"},
    })
    try:
        return schemathesis.openapi.from_path(path, config=config)
    except OSError as exc:
        raise InputError(f"cannot read spec {path}: {exc.strerror or exc}") from None
    except Exception as exc:  # schemathesis reports a broken document in several ways
        raise InputError(f"cannot load spec {path}: {type(exc).__name__}: {_first_line(exc)}") from None


def select_operations(schema: Any, include_writes: bool) -> list[Any]:
    """The operations to check, in :data:`OPERATION_ORDER` (others after); read-only ones unless told."""
    if not include_writes:
        schema = schema.include(operation_id=list(READ_ONLY_OPERATIONS))
    operations = []
    for result in schema.get_all_operations():
        try:
            operations.append(result.ok())
        except Exception as exc:  # an operation the spec defines in a way schemathesis cannot use
            raise InputError(f"the spec has an unusable operation: {_first_line(exc)}") from None
    if not operations:
        raise InputError("the spec has none of the operations to check")
    rank = {name: i for i, name in enumerate(OPERATION_ORDER)}
    return sorted(operations, key=lambda op: rank.get(_operation_id(op) or "", len(rank)))


def check_operation(operation: Any, session: requests.Session, base_url: str, token: str, discovered: Discovered,
                    max_examples: int, seed: int) -> OperationResult:
    """Send generated cases (and the spec's examples) to ``base_url`` and collect the distinct failures."""
    from hypothesis import HealthCheck
    from hypothesis import Phase
    from hypothesis import given
    from hypothesis import seed as hypothesis_seed
    from hypothesis import settings
    from hypothesis import strategies as st
    from schemathesis.errors import FailureGroup

    result = OperationResult(operation.label, _operation_id(operation))
    headers = {"Authorization": f"Bearer {token}"}
    checks = _checks()

    @given(case=st.one_of(_strategies(operation, discovered)))
    @settings(max_examples=max_examples, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck), print_blob=False)
    def run(case: Any) -> None:
        if result.error is not None:
            return
        result.cases += 1
        sent = {"base_url": base_url, "session": session, "headers": headers, "timeout": HTTP_TIMEOUT}
        try:
            response = case.call(**sent)
        except requests.RequestException as exc:
            result.error = f"{type(exc).__name__}: {_first_line(exc)}"
            return
        result.statuses.add(response.status_code)
        discovered.learn(result.operation_id, response.status_code, _json_or_none(response))
        try:
            case.validate_response(response, checks=checks, headers=headers, transport_kwargs=sent)
        except FailureGroup as group:
            for failure in group.exceptions:
                result.failures.setdefault((failure.title, _first_line(failure.message)), _curl(case, headers, token))

    hypothesis_seed(seed)(run)()
    return result


def _strategies(operation: Any, discovered: Discovered) -> list[Any]:
    """Generated cases, the spec's examples, and reads of channels and jobs the server handed out."""
    from hypothesis import strategies as st

    strategies = [operation.as_strategy(), *operation.get_strategies_from_examples()]
    is_read = operation.method.upper() == "GET"
    if is_read and discovered.channels and operation.get_parameter("channel", "path") is not None:
        strategies.append(st.sampled_from(discovered.channels).flatmap(
            lambda channel: operation.as_strategy(path_parameters={"channel": channel})))
    if is_read and discovered.jobids and operation.get_parameter("jobid", "query") is not None:
        strategies.append(st.sampled_from(discovered.jobids).flatmap(
            lambda jobid: operation.as_strategy(query={"jobid": jobid})))
    return strategies


def _curl(case: Any, headers: dict[str, str], token: str) -> str:
    """The failing case as a curl command, without the token, cut short when the body is long."""
    curl = case.as_curl_command(headers=headers).replace(token, "$PIXVERSE_TOKEN")
    return curl if len(curl) <= MAX_CURL_CHARS else curl[:MAX_CURL_CHARS] + " …(cut)"


def _checks() -> list[Any]:
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance
    from schemathesis.specs.openapi.checks import response_headers_conformance
    from schemathesis.specs.openapi.checks import response_schema_conformance
    from schemathesis.specs.openapi.checks import status_code_conformance

    return [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
            response_headers_conformance]


def _operation_line(result: OperationResult) -> str:
    name = f"{result.label}" + (f" ({result.operation_id})" if result.operation_id else "")
    statuses = ", ".join(str(s) for s in sorted(result.statuses)) or "none"
    verdict = "PASS" if result.passed else "FAIL"
    lines = [f"{verdict}  {name}: {result.cases} cases, statuses {statuses}, {len(result.failures)} failed check(s)"]
    for (title, message), curl in result.failures.items():
        lines.append(f"  - {title}: {message}")
        lines.append(f"    reproduce: {curl}")
    return "\n".join(lines)


def _operation_id(operation: Any) -> str | None:
    return operation.schema.get_operation_id(operation)


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except Exception:  # any body that is not JSON
        return None


def _add(known: list[str], values: Iterable[str]) -> None:
    for value in values:
        if value and value not in known:
            known.append(value)


def _is_loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


from contract_tests.check_cli import check  # noqa: E402 (it builds on the helpers above)

main.add_command(check)

if __name__ == "__main__":  # pragma: no cover
    main()

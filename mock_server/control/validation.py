"""Check journaled vendor requests against the vendor contract, ``openapi/pixverse-v1.yaml``.

:class:`RequestValidator` reads a request journal entry (see ``mock_server/http/journaling.py``)
and lists, in short human-readable sentences, every place where the request breaks the contract:

* no or malformed ``Authorization: Bearer`` header (every operation requires ``bearerAuth``);
* a path or method the spec does not have (a trailing slash is ignored: the spec lists each path
  once and the mock answers both forms everywhere);
* a missing or invalid query or path parameter (``jobid``);
* a body missing where required, or in a content type the operation does not accept;
* body fields against the operation's JSON Schema (Draft 2020-12, ``#/components`` refs resolved
  with :mod:`referencing`): required fields, ``maxLength``, ``enum``, ``pattern``, integer ranges.
  Multipart and urlencoded values are strings on the wire: a field the schema types as integer is
  coerced when it is a whole number. JSON values are validated as sent. Binary fields (``face``)
  must arrive as file parts.

The spec is loaded once; validators are built per (operation, content type) and cached. The
validator is called when the journal is read, never on the request path. No Flask import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema import ValidationError
from jsonschema.validators import extend
from referencing import Registry
from referencing import Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:pixverse-mock:vendor-spec"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
NOT_VENDOR = frozenset({"attachment"})
"""Journal operations that are served by the mock itself, not by the vendor API."""

_WHOLE = re.compile(r"\s*[+-]?\d+\s*")
_DECIMAL = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_BOOLEANS = {"true": True, "false": False}
_JSON_TYPES = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean",
    int: "an integer", float: "a number", type(None): "null",
}


def _required(validator: Any, required: Any, instance: Any, schema: Any) -> Any:
    """``required``, with each error's path ending in the missing property (so messages can name it)."""
    if validator.is_type(instance, "object"):
        for name in required:
            if name not in instance:
                yield ValidationError(f"{name!r} is a required property", path=(name,))


_Validator = extend(Draft202012Validator, {"required": _required})


class _Cut(str):
    """A journaled value that was cut to its first characters: ``len()`` is the original length."""

    length: int

    def __new__(cls, text: str, length: int) -> _Cut:
        value = super().__new__(cls, text)
        value.length = length
        return value

    def __len__(self) -> int:
        return self.length


@dataclass
class _Body:
    """One request body content type of an operation."""

    media_type: str
    pointer: str
    names: frozenset[str] = frozenset()
    binary: frozenset[str] = frozenset()
    coerce: dict[str, tuple[str, ...]] = field(default_factory=dict)
    validator: Any = None


@dataclass
class _Parameter:
    name: str
    location: str
    required: bool
    pointer: str | None
    types: frozenset[str] = frozenset()
    validator: Any = None


@dataclass
class _Operation:
    """One method of one spec path, with what the validator needs to check a request to it."""

    method: str
    template: str
    label: str
    secured: bool
    parameters: list[_Parameter]
    body_required: bool
    bodies: dict[str, _Body]


class RequestValidator:
    """Lists where a journaled request breaks the vendor spec; one instance per spec file."""

    def __init__(self, spec_path: Path) -> None:
        """Load the spec (YAML) and index its operations by path template and method."""
        self.spec_path = Path(spec_path)
        self.spec: dict[str, Any] = yaml.safe_load(self.spec_path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry = Registry().with_resource(SPEC_URI, resource)
        self._resolver = self.registry.resolver(base_uri=SPEC_URI)
        self._validator_class = self._validator_class_for(self.spec)
        self._paths: list[tuple[re.Pattern[str], str, dict[str, _Operation]]] = []
        self._index_paths()

    # --- public ------------------------------------------------------------------------------

    def violations(self, entry: dict[str, Any]) -> list[str]:
        """Human-readable contract violations of one request journal entry (``[]`` when it conforms)."""
        if entry.get("operation") in NOT_VENDOR:
            return []
        method = str(entry.get("method") or "GET").upper()
        path = str(entry.get("path") or "")
        found = self._match(path)
        if found is None:
            return [f"{method} {path} is not an operation of the vendor API (not in {self.spec_path.name})"]
        operations, path_values = found
        operation = operations.get(method.lower())
        if operation is None:
            allowed = ", ".join(m.upper() for m in operations)
            return [f"{method} {path}: method not in the spec (allowed: {allowed})"]
        problems: list[str] = []
        if operation.secured and entry.get("auth") != "bearer":
            if entry.get("auth") == "malformed":
                problems.append("Authorization header is not 'Bearer <token>' (every operation requires bearerAuth)")
            else:
                problems.append("Authorization: Bearer <token> header missing (every operation requires bearerAuth)")
        problems.extend(self._parameter_problems(operation, entry.get("query") or {}, path_values))
        problems.extend(self._body_problems(operation, entry))
        return problems

    # --- spec index --------------------------------------------------------------------------

    def _index_paths(self) -> None:
        by_key: dict[str, tuple[re.Pattern[str], str, dict[str, _Operation]]] = {}
        for template, item in (self.spec.get("paths") or {}).items():
            key = _normal(template)
            pattern = re.compile("^" + re.sub(r"\\\{([^}/]+)\\\}", r"(?P<\1>[^/]+)", re.escape(key)) + "$")
            shared = item.get("parameters") or []
            operations = by_key.setdefault(key, (pattern, template, {}))[2]
            pointer = "/paths/" + _escape(template)
            for method in HTTP_METHODS:
                if method in item and method not in operations:
                    operations[method] = self._operation(method, template, item[method], shared,
                                                         f"{pointer}/{method}", pointer)
        self._paths = list(by_key.values())

    def _operation(self, method: str, template: str, spec: dict[str, Any], shared: list[Any],
                   pointer: str, path_pointer: str) -> _Operation:
        params: dict[tuple[str, str], _Parameter] = {}
        for where, listed in ((path_pointer, shared), (pointer, spec.get("parameters") or [])):
            for index, raw in enumerate(listed):
                param, at = self._deref(raw, f"{where}/parameters/{index}")
                schema = param.get("schema")
                params[(param["name"], param["in"])] = _Parameter(
                    param["name"], param["in"], bool(param.get("required")),
                    f"{at}/schema" if schema is not None else None, frozenset(self._types(schema)))
        security = spec.get("security", self.spec.get("security")) or []
        body, body_at = self._deref(spec.get("requestBody") or {}, f"{pointer}/requestBody")
        bodies: dict[str, _Body] = {}
        for media_type, media in (body.get("content") or {}).items():
            at = f"{body_at}/content/{_escape(media_type)}"
            if "schema" in media:
                bodies[media_type.lower()] = self._body(media_type.lower(), media, f"{at}/schema")
        label = _normal(template).removeprefix("/v1/pixverse/") if template.startswith("/v1/pixverse/") else template
        secured = bool(security) and all(security)  # an empty requirement ({}) makes auth optional
        return _Operation(method, template, label, secured, list(params.values()), bool(body.get("required")),
                          bodies)

    def _body(self, media_type: str, media: dict[str, Any], pointer: str) -> _Body:
        binary: set[str] = set()
        coerce: dict[str, tuple[str, ...]] = {}
        properties = self._properties(media["schema"])
        for name, prop in properties.items():
            types = self._types(prop)
            if "string" in types and self._is_binary(prop):
                binary.add(name)
            wire = tuple(t for t in ("integer", "number", "boolean") if t in types)
            if wire and "string" not in types:
                coerce[name] = wire
        return _Body(media_type, pointer, frozenset(properties), frozenset(binary), coerce)

    def _deref(self, node: Any, pointer: str) -> tuple[Any, str]:
        """Follow local ``$ref`` s of non-schema objects (parameters, request bodies) to their target."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            pointer = node["$ref"][1:]
            node = self._resolver.lookup(node["$ref"]).contents
            seen += 1
            if seen > 20:
                break
        return node, pointer

    def _flatten(self, schema: Any) -> list[dict[str, Any]]:
        """The schema and every schema it pulls in through ``$ref`` and ``allOf`` (for properties and types)."""
        out: list[dict[str, Any]] = []
        stack = [schema]
        while stack and len(out) < 50:
            node = stack.pop()
            if not isinstance(node, dict):
                continue
            out.append(node)
            if isinstance(node.get("$ref"), str):
                stack.append(self._resolver.lookup(node["$ref"]).contents)
            stack.extend(node.get("allOf") or [])
        return out

    def _properties(self, schema: Any) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for node in self._flatten(schema):
            for name, prop in (node.get("properties") or {}).items():
                props.setdefault(name, prop)
        return props

    def _types(self, schema: Any) -> set[str]:
        types: set[str] = set()
        for node in self._flatten(schema):
            declared = node.get("type")
            types.update([declared] if isinstance(declared, str) else declared or [])
        return types

    def _is_binary(self, schema: Any) -> bool:
        return any(node.get("format") == "binary" or "contentMediaType" in node or "contentEncoding" in node
                   for node in self._flatten(schema))

    def _validator(self, pointer: str) -> Any:
        return self._validator_class({"$ref": f"{SPEC_URI}#{pointer}"}, registry=self.registry)

    def _validator_class_for(self, spec: Any) -> Any:
        """Draft 2020-12 with named ``required`` errors and, when it is safe, ``$ref`` lookups done once.

        With no ``$id``, ``$anchor`` or ``$dynamicRef`` in the spec, every ``$ref`` resolves against the
        spec document itself, whatever schema it sits in: its :mod:`referencing` lookup can be kept.
        That takes the per-entry cost down about threefold.
        """
        if _has_keys(spec, {"$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$recursiveRef"}):
            return _Validator
        resolver, resolved = self._resolver, {}

        def ref(validator: Any, ref: str, instance: Any, schema: Any) -> Any:
            target = resolved.get(ref)
            if target is None:
                target = resolved[ref] = resolver.lookup(ref)
            yield from validator.descend(instance, target.contents, resolver=target.resolver)

        return extend(_Validator, {"$ref": ref})

    def _match(self, path: str) -> tuple[dict[str, _Operation], dict[str, str]] | None:
        key = _normal(path)
        for pattern, _template, operations in self._paths:
            found = pattern.match(key)
            if found:
                return operations, found.groupdict()
        return None

    # --- checks ------------------------------------------------------------------------------

    def _parameter_problems(self, operation: _Operation, query: dict[str, Any],
                            path_values: dict[str, str]) -> list[str]:
        problems: list[str] = []
        for param in operation.parameters:
            values = query if param.location == "query" else path_values if param.location == "path" else None
            if values is None:
                continue
            where = f"{param.location} parameter {param.name}"
            if param.name not in values:
                if param.required:
                    problems.append(f"{where} is missing (required by {operation.method.upper()} {operation.label})")
                continue
            if param.pointer is None:
                continue
            if param.validator is None:
                param.validator = self._validator(param.pointer)
            value = values[param.name]
            if isinstance(value, str):
                value = _coerce(value, param.types)
            for error in param.validator.iter_errors(value):
                problems.append(_describe(error, where))
        return problems

    def _body_problems(self, operation: _Operation, entry: dict[str, Any]) -> list[str]:
        if not operation.bodies:
            return []
        label = operation.label
        accepted = " or ".join(operation.bodies)
        only = " only" if len(operation.bodies) == 1 else ""
        if entry.get("bodyError"):
            return [f"{label} body could not be parsed ({entry['bodyError']}); send {accepted}"]
        content_type = (entry.get("contentType") or "").lower()
        if not content_type:
            if operation.body_required:
                return [f"{label} requires a request body ({accepted}), got none"]
            return []
        body = _media(operation.bodies, content_type)
        if body is None:
            return [f"{label} accepts {accepted}{only}, got {content_type}"]
        if body.validator is None:
            body.validator = self._validator(body.pointer)
        fields = entry.get("fields") or {}
        if entry.get("json"):
            instance = fields["<body>"] if set(fields) == {"<body>"} else {k: _uncut(v) for k, v in fields.items()}
            return [_describe(error, "") for error in body.validator.iter_errors(instance)]
        problems: list[str] = []
        reported: set[str] = set()
        instance = {}
        for name, value in fields.items():
            value = _uncut(value)
            if name in body.binary:
                continue
            if name in body.coerce and isinstance(value, str):
                value = _coerce(value, body.coerce[name])
            instance[name] = value
        for part in entry.get("files") or []:
            name = part.get("name")
            if name in body.binary:
                instance[name] = part.get("filename") or ""
            elif name not in fields and name in body.names:
                problems.append(f"{name} must be a text field, got a file part")
                reported.add(name)
        for name in sorted(body.binary):
            if name in fields and name not in instance:
                problems.append(f"{name} must be a file part (File or Blob), got a text field")
                reported.add(name)
        for error in body.validator.iter_errors(instance):
            if not (error.validator == "required" and error.path and error.path[-1] in reported):
                problems.append(_describe(error, "", binary=body.binary))
        return problems


# --- helpers ---------------------------------------------------------------------------------


def _has_keys(node: Any, keys: set[str]) -> bool:
    if isinstance(node, dict):
        return any(k in keys for k in node) or any(_has_keys(v, keys) for v in node.values())
    if isinstance(node, list):
        return any(_has_keys(v, keys) for v in node)
    return False


def _normal(path: str) -> str:
    return path.rstrip("/") or "/"


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _media(bodies: dict[str, _Body], content_type: str) -> _Body | None:
    if content_type in bodies:
        return bodies[content_type]
    major = content_type.split("/", 1)[0]
    return bodies.get(f"{major}/*") or bodies.get("*/*")


def _uncut(value: Any) -> Any:
    """A journaled cut value (``{"truncated": text, "length": n}``) as a string whose ``len()`` is ``n``."""
    if isinstance(value, dict) and len(value) == 2 and isinstance(value.get("truncated"), str) \
            and isinstance(value.get("length"), int):
        return _Cut(value["truncated"], value["length"])
    return value


def _coerce(value: str, types: Any) -> Any:
    """A wire string as the number or boolean the schema asks for, when it reads as one; else unchanged."""
    if "integer" in types and _WHOLE.fullmatch(value):
        return int(value)
    if "number" in types and _DECIMAL.fullmatch(value):
        number = float(value)
        return int(number) if number.is_integer() and "integer" in types else number
    if "boolean" in types and value.strip().lower() in _BOOLEANS:
        return _BOOLEANS[value.strip().lower()]
    return value


def _show(value: Any) -> str:
    if isinstance(value, _Cut):
        return f"'{str.__str__(value)[:40]}…' ({len(value)} characters)"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:60] + "…")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return _JSON_TYPES[type(value)]
    return repr(value)


def _describe(error: ValidationError, where: str, binary: frozenset[str] = frozenset()) -> str:
    """One short sentence for a schema error, naming the field it is about."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    name = where or path or "request body"
    if where and path:
        name = f"{where}{'' if path.startswith('[') else '.'}{path}"
    keyword, expected, value = error.validator, error.validator_value, error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "required":
        return f"{name} is missing (required{' file part' if path in binary else ''})"
    if keyword == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        article = "an" if wanted[:1] in "aeiou" else "a"
        if name == "request body":
            got = "null or malformed JSON" if value is None else _JSON_TYPES.get(type(value), "something else")
            return f"request body must be a JSON {wanted}, got {got}"
        return f"{name} must be {article} {wanted}, got {_show(value)}"
    if keyword == "maxLength":
        return f"{name} is too long: {len(value)} characters, max {expected}"
    if keyword == "minLength":
        if expected == 1:
            return f"{name} must not be empty"
        return f"{name} is too short: {len(value)} characters, min {expected}"
    if keyword == "enum":
        return f"{name} {_show(value)} is not one of {', '.join(str(e) for e in expected)}"
    if keyword == "const":
        return f"{name} must be {_show(expected)}, got {_show(value)}"
    if keyword == "pattern":
        return f"{name} {_show(value)} does not match {expected}"
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"{name} must be between {low} and {high}, got {_show(value)}"
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[keyword]
        return f"{name} must be {bound} {expected}, got {_show(value)}"
    return f"{name}: {error.message}"

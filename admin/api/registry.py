"""The JSON API's operations, each declared once: a Flask route and its entry in the OpenAPI
description. The wrapper does what every operation needs: the bearer token, the admin check,
path and query parameters converted and checked, the JSON body checked against the very schema
the description publishes (jsonschema), and core's refusals turned into JSON errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue
from jsonschema import Draft202012Validator
from werkzeug.exceptions import HTTPException

from admin.api.schemas import ID, Param, Schema
from admin.api_auth import bearer_user
from admin.database import db
from core.errors import ConflictError, InvalidInputError, MailrelayError, NotFoundError, PostfixError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ERROR_TEXTS = {400: "The request is malformed", 401: "No valid API token", 403: "Admins only",
               404: "Not found, or not yours", 409: "It exists already", 413: "The body is too large",
               422: "Well-formed but refused; the error says why", 503: "Postfix could not be reached"}
_REFUSALS: tuple[tuple[type[MailrelayError], int], ...] = (
    (NotFoundError, 404), (ConflictError, 409), (InvalidInputError, 422), (PostfixError, 503))
_PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # as OpenAPI writes it: /tenants/{tenant_id}
    summary: str
    tag: str
    handler: Callable[..., Any]
    path_params: Mapping[str, Schema]
    query: tuple[Param, ...]
    body: Schema | None
    status: int
    result: Schema | None
    errors: tuple[int, ...]
    admin_only: bool
    validator: Draft202012Validator | None = field(default=None, compare=False)
    # What a success answers with: JSON (the result schema), or the Response the handler makes.
    media_type: str = "application/json"


OPERATIONS: list[Operation] = []


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def operation(method: str, path: str, summary: str, *, tag: str, result: Schema | None,
              status: int = 200, query: tuple[Param, ...] = (), body: Schema | None = None,
              path_params: Mapping[str, Schema] | None = None, errors: tuple[int, ...] = (),
              admin_only: bool = False, media_type: str = "application/json",
              ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an operation. Path parameters are integer ids unless path_params says otherwise."""
    names = _PATH_PARAM.findall(path)
    schemas = {name: dict((path_params or {}).get(name, ID)) for name in names}

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        implied = {401} | ({403} if admin_only else set()) | ({404} if names else set()) | (
            {400, 413} if body is not None else set()) | ({400} if query else set())
        op = Operation(method, path, summary, tag, handler, schemas, query, body, status, result,
                       tuple(sorted(implied | set(errors))), admin_only,
                       Draft202012Validator(body, format_checker=Draft202012Validator.FORMAT_CHECKER)
                       if body is not None else None, media_type)
        OPERATIONS.append(op)
        rule = _PATH_PARAM.sub(r"<\1>", path)
        endpoint = f"{handler.__module__.rpartition('.')[2]}_{handler.__name__}"
        bp.add_url_rule(rule, endpoint, lambda **values: _call(op, values), methods=[method])
        return handler
    return register


def _path_value(op: Operation, name: str, text: str) -> Any:
    schema = op.path_params[name]
    if schema.get("type") == "integer":
        if not text.isdigit() or not schema["minimum"] <= int(text) <= schema["maximum"]:
            raise ApiError(404, f"no such {name.removesuffix('_id')}")
        return int(text)
    if "pattern" in schema and not re.fullmatch(schema["pattern"], text):
        raise ApiError(404, f"no such {name}")
    return text


def _query_values(op: Operation) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in op.query:
        raw = request.args.get(param.name)
        if raw is None:
            if param.required:
                raise ApiError(400, f"the query parameter {param.name} is required")
            continue
        value: Any = raw
        if param.schema.get("type") == "integer":
            try:
                value = int(raw)
            except ValueError:
                raise ApiError(400, f"{param.name} must be an integer") from None
        problem = next(Draft202012Validator(param.schema).iter_errors(value), None)
        if problem is not None:
            raise ApiError(400, f"{param.name}: {problem.message}")
        values[param.name] = value
    return values


def _integral(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; core gets it as the int 3."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _body(op: Operation) -> Any:
    data = _integral(request.get_json(silent=True))
    if data is None:
        raise ApiError(400, "send a JSON body with Content-Type: application/json")
    try:
        json.dumps(data, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # "\ud800" is valid JSON but no character, and no database stores it
        raise ApiError(400, "the JSON body carries a lone UTF-16 surrogate") from None
    assert op.validator is not None
    problem = next(op.validator.iter_errors(data), None)
    if problem is not None:
        where = "/".join(str(p) for p in problem.absolute_path) or "body"
        raise ApiError(400, f"{where}: {problem.message}"[:500])
    return data


def _call(op: Operation, values: dict[str, str]) -> ResponseReturnValue:
    try:
        user = bearer_user()
        if op.admin_only and user.role != "admin":
            raise ApiError(403, "this operation is for admins only")
        arguments = {name: _path_value(op, name, text) for name, text in values.items()}
        arguments.update(_query_values(op))
        if op.body is not None:
            arguments["body"] = _body(op)
        result = op.handler(**arguments)
        db().flush()
    except ApiError as exc:
        db().rollback()
        return error_response(exc.status, str(exc))
    except MailrelayError as exc:
        db().rollback()
        status = next((code for kind, code in _REFUSALS if isinstance(exc, kind)), 422)
        return error_response(status, str(exc))
    except HTTPException as exc:
        db().rollback()
        return error_response(exc.code or 500, exc.description or exc.name,
                              {"WWW-Authenticate": "Bearer"} if exc.code == 401 else None)
    if op.status == 204:
        return Response(status=204)
    if isinstance(result, Response):
        return result
    return jsonify(result), op.status

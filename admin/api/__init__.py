"""The JSON API at /api/v1: what the panel does, for programs, with bearer tokens; its OpenAPI
description at /api/v1/openapi.json."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue

from admin.api import (
    archive,
    bounces,
    domains,
    messages,
    pools,
    queue,
    receiver_reports,
    suppressions,
    tenants,
)
from admin.api.openapi import openapi_document
from admin.api.registry import bp

__all__ = ["archive", "bounces", "bp", "domains", "messages", "pools", "queue", "receiver_reports",
           "suppressions", "tenants"]


@bp.route("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())

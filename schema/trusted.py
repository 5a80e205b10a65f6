"""Trusted documents inside the schema: parsed and validated once, when the manifest loads.

A request whose text is a manifest document gets its ready document (no parse) and skips
validation and the query limits (schema/limits.py: GuardedValidation), so its per-request
validation cost is zero; only who may introspect (a per-caller permission) and the variable
values are still checked. In `require` mode a document not in the manifest is refused at
validation, whatever carried it (POST, GET, multipart, WebSocket).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, specified_rules
from graphql.language.parser import parse
from strawberry.schema.schema import validate_document

from schema.introspection import introspection_errors, uses_introspection
from web.persisted import NOT_IN_LIST_MESSAGE, ManifestError


@dataclass
class Trusted:
    mode: str = "off"
    documents: dict[str, DocumentNode] = field(default_factory=dict)  # text → validated document
    introspective: set[int] = field(default_factory=set)  # ids of those that use __schema/__type


registry = Trusted()


def configure(graphql_schema: GraphQLSchema, mode: str, manifest: Mapping[str, str],
              limit_errors: Any) -> None:
    """Parse and validate every manifest document (standard rules and Patron's limits);
    ManifestError on the first that fails: a manifest built for another schema must not start."""
    documents: dict[str, DocumentNode] = {}
    introspective: set[int] = set()
    if mode != "off":
        for digest, text in manifest.items():
            try:
                document = parse(text)
            except GraphQLError as exc:
                raise ManifestError(f"trusted document {digest[:12]}… does not parse: {exc.message}") from None
            errors = limit_errors(document) or validate_document(graphql_schema, document, tuple(specified_rules))
            if errors:
                raise ManifestError(f"trusted document {digest[:12]}… is invalid for this schema: {errors[0].message}")
            documents[text] = document
            if uses_introspection(document):
                introspective.add(id(document))
    registry.mode, registry.documents, registry.introspective = mode, documents, introspective


def trusted_document(query: str | None) -> DocumentNode | None:
    return registry.documents.get(query) if query else None


def is_trusted(query: str | None, document: DocumentNode | None) -> bool:
    return document is not None and trusted_document(query) is document


def refusal(context: Any) -> list[GraphQLError]:
    """For a document that is not trusted: refused in `require` mode, for callers only (the
    SDL export and in-process calls have no viewer) other than the configured federation
    gateway, whose query planner writes the documents it sends (the supergraph enforces its
    own safelist on its clients' operations)."""
    if registry.mode != "require" or getattr(context, "viewer", None) is None:
        return []
    if getattr(context, "gateway", False):  # the federation gateway's generated subgraph fetches
        return []
    return [GraphQLError(NOT_IN_LIST_MESSAGE, extensions={"code": "PERSISTED_QUERY_NOT_IN_LIST"})]


def trusted_errors(document: DocumentNode, context: Any) -> list[GraphQLError]:
    """What is still checked for a trusted document: who may introspect (per caller)."""
    return introspection_errors(document, context) if id(document) in registry.introspective else []

"""Schema hygiene (issue 11, item 7): every field is described, names follow one convention.

Federation's own types and fields (`_Service`, `_Entity`, `_entities`, `_service`) are the
Apollo spec's, not ours, and are left as strawberry prints them."""

from __future__ import annotations

import re

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType, get_named_type

from composition.api import schema as patron_schema

SCHEMA = patron_schema._schema
# Mutations that are not `*Payload { errors }`, each with the reason it is accepted.
PAYLOAD_EXCEPTIONS = {
    # An admin's synchronous training run: it has no business outcome to refuse (a failure is
    # an operator's error, reported as a GraphQL error), so it answers the run's figures.
    "trainRecommender",
}


def _our_types():
    for name, graphql_type in SCHEMA.type_map.items():
        if name.startswith("_"):
            continue
        if isinstance(graphql_type, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            yield name, graphql_type


def test_every_field_and_argument_of_ours_has_a_description():
    undescribed = [f"{name}.{field_name}" for name, graphql_type in _our_types()
                   for field_name, field in graphql_type.fields.items()
                   if not field_name.startswith("_") and not (field.description or "").strip()]
    assert undescribed == [], f"{len(undescribed)} fields without a description: {undescribed[:40]}"


def test_names_follow_the_conventions():
    wrong = []
    for name, graphql_type in _our_types():
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name):
            wrong.append(f"type {name}: PascalCase")
        if isinstance(graphql_type, GraphQLInputObjectType) and not name.endswith("Input"):
            wrong.append(f"input {name}: ends in Input")
        for field_name in graphql_type.fields:
            if not field_name.startswith("_") and not re.fullmatch(r"[a-z][A-Za-z0-9]*", field_name):
                wrong.append(f"{name}.{field_name}: camelCase")
    assert wrong == []


def test_mutations_answer_a_payload_with_errors():
    wrong = []
    for field_name, field in SCHEMA.mutation_type.fields.items():
        payload = get_named_type(field.type)
        if field_name in PAYLOAD_EXCEPTIONS:
            continue
        if not payload.name.endswith("Payload") or "errors" not in payload.fields:
            wrong.append(f"{field_name}: {payload.name}")
    assert wrong == []


def test_the_exceptions_are_still_needed():
    for field_name in PAYLOAD_EXCEPTIONS:
        assert not get_named_type(SCHEMA.mutation_type.fields[field_name].type).name.endswith("Payload")

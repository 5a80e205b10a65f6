"""Breaking changes of the API are deliberate (issue 11, item 7).

schema.graphql is compared with schema.baseline.graphql, the SDL clients were last promised
(updated at a release with `make schema-baseline`), using graphql-core's find_breaking_changes.
Every break must be declared in schema-breaking-changes.txt. A baseline file rather than the
previous commit's SDL: CI may test only the last of several pushed commits (a break made in an
earlier one would pass against its parent), and a clean or shallow checkout may have no parent.
"""

from __future__ import annotations

from pathlib import Path

from graphql import BreakingChange, build_schema, find_breaking_changes

ROOT = Path(__file__).resolve().parent.parent
DECLARED = ROOT / "schema-breaking-changes.txt"


def describe(change: BreakingChange) -> str:
    return f"{change.type.name}: {change.description}"


# schema.graphql is the federation subgraph SDL (what `_service { sdl }` serves), which applies
# Apollo Federation's directives without defining them; their definitions (from the federation
# spec) are added so the SDL still builds with full validation. A newly used federation
# directive fails the build here until its definition is added.
FEDERATION_DIRECTIVES = """
directive @link(url: String!, as: String, import: [link__Import], for: link__Purpose) repeatable on SCHEMA
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
directive @key(fields: federation__FieldSet!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
scalar federation__FieldSet
"""


def build(sdl: str):
    return build_schema(sdl + FEDERATION_DIRECTIVES if "@link(" in sdl else sdl)


def breaking_changes(old_sdl: str, new_sdl: str) -> list[str]:
    return [describe(c) for c in find_breaking_changes(build(old_sdl), build(new_sdl))]


def declared() -> set[str]:
    lines = DECLARED.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")}


def test_schema_has_no_undeclared_breaking_change_since_the_baseline():
    baseline = (ROOT / "schema.baseline.graphql").read_text(encoding="utf-8")
    current = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    undeclared = [c for c in breaking_changes(baseline, current) if c not in declared()]
    assert not undeclared, (
        "schema.graphql breaks clients of schema.baseline.graphql. If that is intended, add these "
        "lines to schema-breaking-changes.txt (and a CHANGELOG.md entry); otherwise keep the old "
        "field or argument (deprecated) next to the new one:\n" + "\n".join(undeclared))


def test_the_check_sees_a_removed_field_and_a_changed_argument_type():
    old = "type Query { tiers: [String!]!  member(id: Int!): String  count: Int }"
    new = "type Query { member(id: ID!): String  count: Int }"
    assert breaking_changes(old, new) == [
        "FIELD_REMOVED: Field Query.tiers was removed.",
        "ARG_CHANGED_KIND: Argument Query.member(id:) has changed type from Int! to ID!.",
    ]


def test_adding_fields_and_deprecating_is_not_a_break():
    old = "type Query { member(id: Int!): String }"
    new = ('type Query { member(id: Int! @deprecated(reason: "use memberById")): String '
           "memberById(id: ID!): String }")
    assert breaking_changes(old, new) == []

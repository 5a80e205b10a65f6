"""Thin glue between GraphQL and domain/: arguments in, domain calls, payloads out."""

"""The merchant console at /console: server-rendered pages (Jinja2) with small ES modules.

Every read and write runs Patron's own GraphQL schema in-process with the viewer of the
signed-in staff account (domain/staff/service.py viewer_for): the same permission checks
as an HTTP call, and no business rule here."""

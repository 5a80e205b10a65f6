"""Staff accounts of the merchant console: people at the brand (not API keys), their sessions
and the audit log of what they did. No GraphQL here: the console (web/console/) turns a
session into a Viewer and runs Patron's own schema with it."""

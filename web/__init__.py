"""HTTP edge of the API: what happens to a request before GraphQL sees it (body limits,
malformed bodies, trusted proxies, the local GraphiQL assets). No domain logic here."""

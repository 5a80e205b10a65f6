"""The composition root: where the pieces are put together, and nothing imports back.

`composition.api` binds the resolvers/ functions to the schema/ types and builds the
strawberry Schema; `composition.subscribers` registers every event subscriber on the bus.
server.py (and tests) import from here; domain/, schema/, resolvers/ and web/ never do
(tests/test_architecture.py checks it).
"""

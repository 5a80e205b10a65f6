"""The GraphQL types, inputs, payloads and permissions. The Schema itself is built in
composition/api.py (which imports these and resolvers/); nothing here imports it back."""

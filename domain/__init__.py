"""The business of Patron: tortoise models and the services that change them.

Nothing in here knows about GraphQL; resolvers/ translate between the two.
"""

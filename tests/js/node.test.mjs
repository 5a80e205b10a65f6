// Relay Global Object Identification: refetching any object by its global ID with
// `node(id:)` (issue 11, item 1). The slice that adds `Node` and `node(id:)` fills this in:
// fetch a member's `id` with urql, refetch it with
//   query Refetch($id: ID!) { node(id: $id) { id ... on Member { externalId } } }
// and check that another member's token gets null + FORBIDDEN for it.
import { test } from 'node:test';

test.todo('urql refetches a Member by its global id with node(id:) (comes with the Node interface)');

// Relay Global Object Identification with urql: an object's global `id`, read through its
// normal field, refetches it with `node(id:)`; another member's token gets null + FORBIDDEN.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gql } from '@urql/core';
import { givenMember, memberToken, urqlClient } from './patron.mjs';

const MemberCard = gql`
  fragment MemberCard on Member { id externalId email points { balance } }
`;
const ME = gql`
  query Me { me { ...MemberCard } }
  ${MemberCard}
`;
// What Relay's @refetchable generates for a fragment on a Node type.
const REFETCH = gql`
  query MemberCardRefetch($id: ID!) { node(id: $id) { __typename id ...MemberCard } }
  ${MemberCard}
`;

test('urql refetches a Member by its global id with node(id:)', async () => {
  // Given a member who read their card through `me`
  const id = await givenMember({ name: 'Ann Lee', points: 25 });
  const token = memberToken(id);
  const me = await urqlClient(token).query(ME, {}).toPromise();
  assert.equal(me.error, undefined);
  assert.match(me.data.me.id, /^[A-Za-z0-9+/]+=*$/); // opaque: base64 of "Member:<pk>"
  // When the card is refetched by its id
  const again = await urqlClient(token).query(REFETCH, { id: me.data.me.id }).toPromise();
  // Then it is the same object with the same fields
  assert.equal(again.error, undefined);
  assert.deepEqual(again.data.node, me.data.me);
  assert.equal(again.data.node.__typename, 'Member');
});

test("another member's token gets null and FORBIDDEN for that id, never the data", async () => {
  const owner = await givenMember({ name: 'Bo Kim', points: 10 });
  const stranger = await givenMember({ name: 'Cy Ode' });
  const me = await urqlClient(memberToken(owner)).query(ME, {}).toPromise();
  const result = await urqlClient(memberToken(stranger)).query(REFETCH, { id: me.data.me.id }).toPromise();
  assert.equal(result.data.node, null);
  assert.equal(result.error.graphQLErrors.length, 1);
  assert.equal(result.error.graphQLErrors[0].extensions.code, 'FORBIDDEN');
  assert.deepEqual(result.error.graphQLErrors[0].path, ['node']);
  assert.ok(!JSON.stringify(result).includes(`${owner}@example.com`));
});

// urql: queries composed from fragments, with variables, as a front end writes them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gql } from '@urql/core';
import { givenMember, memberToken, urqlClient } from './patron.mjs';

const TierName = gql`
  fragment TierName on Tier { name }
`;
const MemberCard = gql`
  fragment MemberCard on Member { externalId name tier { ...TierName } }
  ${TierName}
`;
const Balance = gql`
  fragment Balance on Points { balance pending lifetimeEarned }
`;
const PROFILE = gql`
  query Profile($id: String!, $days: Int!) {
    member(externalId: $id) {
      ...MemberCard
      points { ...Balance expiringSoon(days: $days) }
    }
  }
  ${MemberCard}
  ${Balance}
`;
const ME = gql`
  query Me { me { ...MemberCard points { ...Balance } } }
  ${MemberCard}
  ${Balance}
`;

test('a query built from nested fragments with variables returns exactly the selected fields', async () => {
  // Given a member given 40 points (an adjustment, so nothing is "earned")
  const id = await givenMember({ name: 'Ann Lee', points: 40 });
  // When the admin console asks for their profile
  const result = await urqlClient(process.env.PATRON_ADMIN_KEY).query(PROFILE, { id, days: 30 }).toPromise();
  // Then the fragments' fields come back (urql adds __typename to every selection)
  assert.equal(result.error, undefined);
  assert.deepEqual(result.data.member, {
    __typename: 'Member',
    externalId: id,
    name: 'Ann Lee',
    tier: null,
    points: { __typename: 'Points', balance: 40, pending: 0, lifetimeEarned: 0, expiringSoon: 0 },
  });
});

test('the same fragments work for the signed-in member (member token)', async () => {
  const id = await givenMember({ name: 'Bo Kim', points: 15 });
  const result = await urqlClient(memberToken(id)).query(ME, {}).toPromise();
  assert.equal(result.error, undefined);
  assert.equal(result.data.me.externalId, id);
  assert.deepEqual(result.data.me.points, { __typename: 'Points', balance: 15, pending: 0, lifetimeEarned: 0 });
});

test('a variable of the wrong type is a GraphQL error with a code, not data', async () => {
  const result = await urqlClient(process.env.PATRON_ADMIN_KEY).query(PROFILE, { id: 'x', days: 'thirty' }).toPromise();
  assert.equal(result.data ?? null, null);
  assert.ok(result.error, 'expected a CombinedError');
  assert.match(result.error.graphQLErrors[0].message, /\$days/);
  assert.equal(result.error.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT');
});

// urql: mutations whose expected failures are payload errors (data), not GraphQL errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gql } from '@urql/core';
import { givenMember, memberToken, unique, urqlClient } from './patron.mjs';

const SPEND = gql`
  mutation Spend($input: SpendPointsInput!) {
    spendPoints(input: $input) {
      entry { amount kind }
      member { points { balance } }
      errors { field message code }
    }
  }
`;
const BALANCE = gql`
  query Balance { me { points { balance } } }
`;

test('spending more than the balance is a payload error INSUFFICIENT_POINTS and changes nothing', async () => {
  // Given a member with 30 points, signed in on the storefront
  const id = await givenMember({ points: 30 });
  const client = urqlClient(memberToken(id));
  // When they try to spend 50
  const result = await client.mutation(SPEND, { input: { amount: 50, idempotencyKey: unique('spend') } }).toPromise();
  // Then the request succeeded and the payload says why nothing happened
  assert.equal(result.error, undefined);
  const payload = result.data.spendPoints;
  assert.equal(payload.entry, null);
  assert.equal(payload.errors.length, 1);
  assert.equal(payload.errors[0].code, 'INSUFFICIENT_POINTS');
  assert.equal(payload.errors[0].__typename, 'UserError');
  // And the balance is untouched
  const after = await client.query(BALANCE, {}).toPromise();
  assert.equal(after.data.me.points.balance, 30);
});

test('a spend within the balance returns the entry and the new balance, with no errors', async () => {
  const id = await givenMember({ points: 30 });
  const client = urqlClient(memberToken(id));
  const result = await client.mutation(SPEND, { input: { amount: 20, idempotencyKey: unique('spend') } }).toPromise();
  assert.equal(result.error, undefined);
  const payload = result.data.spendPoints;
  assert.deepEqual(payload.errors, []);
  assert.equal(payload.entry.amount, -20);
  assert.equal(payload.member.points.balance, 10);
});

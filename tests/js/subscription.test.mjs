// graphql-transport-ws with the reference client, `graphql-ws` (what Apollo Client and urql
// use for subscriptions), directly and behind urql's subscriptionExchange.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { cacheExchange, fetchExchange, gql, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { WS_URL, givePoints, givenMember, memberToken, urqlClient } from './patron.mjs';

const BALANCE = 'subscription { pointsBalanceChanged { balance eventType } }';

function wsClient(token) {
  return createClient({
    url: WS_URL,
    webSocketImpl: WebSocket, // Node 20 has no global WebSocket
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0, // a refused or broken connection fails the test at once
  });
}

/** The protocol has no "subscribed" acknowledgement, so points are given (25 at a time)
 * until the first event arrives; then the subscription is live. */
async function firstEvent(nextEvent, memberId) {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    await givePoints(memberId, 25);
    const event = await Promise.race([nextEvent, sleep(300).then(() => null)]);
    if (event) return event;
  }
  throw new Error('no pointsBalanceChanged event after 50 point changes');
}

test('graphql-ws receives pointsBalanceChanged for the signed-in member only', async () => {
  // Given two members, the first subscribed to their balance with the graphql-ws client
  const [ann, bo] = [await givenMember(), await givenMember()];
  const client = wsClient(memberToken(ann));
  const events = client.iterate({ query: BALANCE });
  try {
    // When Ann's points change, the event reaches the client (text frames: it parsed)
    const first = await firstEvent(events.next(), ann);
    assert.equal(first.done, false);
    assert.equal(first.value.errors, undefined);
    const { balance, eventType } = first.value.data.pointsBalanceChanged;
    assert.equal(eventType, 'points.adjusted');
    assert.ok(balance > 0 && balance % 25 === 0, `balance ${balance}`);
    // Then Bo's change is not delivered to Ann, and Ann's next change is, in order
    await givePoints(bo, 7);
    await givePoints(ann, 25);
    const second = await events.next();
    assert.deepEqual(second.value.data.pointsBalanceChanged, { balance: balance + 25, eventType: 'points.adjusted' });
  } finally {
    await events.return();
    await client.dispose();
  }
});

test('urql forwards subscriptions to graphql-ws (subscriptionExchange)', async () => {
  // Given urql set up the documented way: queries over fetch, subscriptions over graphql-ws
  const ann = await givenMember();
  const ws = wsClient(memberToken(ann));
  const client = urqlClient(memberToken(ann), [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || '' };
        return { subscribe: (sink) => ({ unsubscribe: ws.subscribe(input, sink) }) };
      },
    }),
  ]);
  const results = [];
  let wake = () => {};
  const { unsubscribe } = client.subscription(gql(BALANCE), {}).subscribe((result) => {
    results.push(result);
    wake(result);
  });
  try {
    // When the member's points change
    const next = new Promise((resolve) => { wake = resolve; });
    await firstEvent(next, ann);
    // Then urql hands over the event
    const [result] = results;
    assert.equal(result.error, undefined);
    const { balance, eventType } = result.data.pointsBalanceChanged;
    assert.equal(eventType, 'points.adjusted');
    assert.ok(balance > 0 && balance % 25 === 0, `balance ${balance}`);
  } finally {
    unsubscribe();
    await ws.dispose();
  }
});

test('graphql-ws with a bad token is refused with close code 4403', async () => {
  const client = wsClient('not-a-token');
  const events = client.iterate({ query: BALANCE });
  try {
    await assert.rejects(events.next(), (closed) => {
      assert.equal(closed.code, 4403);
      return true;
    });
  } finally {
    await client.dispose();
  }
});

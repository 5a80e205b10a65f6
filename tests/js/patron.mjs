// Shared by the *.test.mjs files: where Patron runs, how a storefront signs a member in,
// and urql clients the way front-end code builds them.
//
// tests/test_js_clients.py starts Patron and sets PATRON_URL, PATRON_ADMIN_KEY and
// PATRON_MEMBER_JWT_SECRET; to run these by hand against your own Patron, set them yourself.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, cacheExchange, fetchExchange } from '@urql/core';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these through tests/test_js_clients.py (or set it)`);
  return value;
}

export const PATRON_URL = required('PATRON_URL'); // http://127.0.0.1:<port>/graphql
export const WS_URL = PATRON_URL.replace(/^http/, 'ws');
export const ADMIN_KEY = required('PATRON_ADMIN_KEY');
const MEMBER_JWT_SECRET = required('PATRON_MEMBER_JWT_SECRET');

let counter = 0;
/** An id no other test file uses (each file runs in its own process). */
export function unique(prefix) {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/** A member JWT (HS256) as the storefront's backend signs it (see "Member tokens" in the README). */
export function memberToken(externalId, ttlSeconds = 600) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: externalId, iat: now, exp: now + ttlSeconds })}`;
  const signature = createHmac('sha256', MEMBER_JWT_SECRET).update(unsigned).digest('base64url');
  return `${unsigned}.${signature}`;
}

/** An urql client sending `Authorization: Bearer <token>` (none when token is null). */
export function urqlClient(token, exchanges = [cacheExchange, fetchExchange]) {
  return new Client({
    url: PATRON_URL,
    exchanges,
    requestPolicy: 'network-only', // every test asks the server, never a previous answer
    fetchOptions: () => (token ? { headers: { authorization: `Bearer ${token}` } } : {}),
  });
}

const adminClient = urqlClient(ADMIN_KEY);

/** Runs an operation as admin and returns its data; any GraphQL or payload error throws. */
export async function admin(document, variables = {}) {
  const result = await adminClient.mutation(document, variables).toPromise();
  if (result.error) throw result.error;
  for (const payload of Object.values(result.data)) {
    if (payload && Array.isArray(payload.errors) && payload.errors.length) {
      throw new Error(`payload errors: ${JSON.stringify(payload.errors)}`);
    }
  }
  return result.data;
}

/** Creates a member (and optionally gives them points) through the admin API. */
export async function givenMember({ name = 'Ann Lee', points = 0 } = {}) {
  const externalId = unique('member');
  await admin(`mutation($i: UpsertMemberInput!) { upsertMember(input: $i) { errors { code } } }`,
    { i: { externalId, name, email: `${externalId}@example.com` } });
  if (points) await givePoints(externalId, points);
  return externalId;
}

export async function givePoints(externalId, amount) {
  await admin(`mutation($i: AdjustPointsInput!) { adjustPoints(input: $i) { errors { code } } }`,
    { i: { memberExternalId: externalId, amount, reason: 'js client test', idempotencyKey: unique('adjust') } });
}

export async function givenProduct(title = 'Trail shoe') {
  const externalId = unique('product');
  await admin(`mutation($p: [ProductInput!]!) { upsertProducts(input: $p) { errors { code } } }`,
    { p: [{ externalId, title }] });
  return externalId;
}

/** A committed fixture (tests/js/fixtures) as a File, what a browser's <input type=file> gives. */
export function fixtureFile(name, type) {
  return new File([readFileSync(new URL(`./fixtures/${name}`, import.meta.url))], name, { type });
}

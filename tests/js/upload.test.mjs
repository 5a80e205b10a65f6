// File uploads by the GraphQL multipart request spec
// (https://github.com/jaydenseric/graphql-multipart-request-spec), sent two ways:
// urql's fetchExchange (it builds the multipart body itself when variables hold a File),
// and extract-files + FormData, which is what apollo-upload-client does.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gql } from '@urql/core';
import extractFiles from 'extract-files/extractFiles.mjs';
import isExtractableFile from 'extract-files/isExtractableFile.mjs';
import { PATRON_URL, fixtureFile, givenMember, givenProduct, memberToken, urqlClient } from './patron.mjs';

const SUBMIT = gql`
  mutation Submit($input: SubmitReviewInput!, $media: [Upload!]) {
    submitReview(input: $input, media: $media) {
      review { rating media { kind contentType width height status url } }
      errors { field message code }
    }
  }
`;
const BODY = 'Light and grippy; the photos show the colour in daylight.';

/** The stored photo is served back as an image. */
async function assertServed(url, contentType) {
  const response = await fetch(new URL(url, PATRON_URL));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), contentType);
  assert.ok((await response.arrayBuffer()).byteLength > 0);
}

test('urql sends a File variable as a multipart request and the review keeps the photo', async () => {
  // Given a signed-in member and a product
  const [member, product] = [await givenMember(), await givenProduct()];
  const client = urqlClient(memberToken(member));
  // When they submit a review with a photo through urql
  const result = await client.mutation(SUBMIT, {
    input: { productExternalId: product, rating: 5, body: BODY },
    media: [fixtureFile('photo.jpg', 'image/jpeg')],
  }).toPromise();
  // Then the photo is stored, re-encoded and published with the review
  assert.equal(result.error, undefined);
  const { review, errors } = result.data.submitReview;
  assert.deepEqual(errors, []);
  assert.equal(review.media.length, 1);
  const [photo] = review.media;
  assert.deepEqual([photo.kind, photo.contentType, photo.width, photo.height, photo.status],
    ['PHOTO', 'image/jpeg', 64, 48, 'PUBLISHED']);
  await assertServed(photo.url, 'image/jpeg');
});

test('extract-files + FormData (the apollo-upload-client way) uploads several files, one of them used twice', async () => {
  const [member, product] = [await givenMember(), await givenProduct()];
  const photo = fixtureFile('photo.jpg', 'image/jpeg');
  const badge = fixtureFile('badge.png', 'image/png');
  // Given the operation with Files in its variables, split as the spec says:
  // `operations` with each file replaced by null, `map` from form field to variable paths
  const { clone, files } = extractFiles({
    query: SUBMIT.loc.source.body,
    variables: { input: { productExternalId: product, rating: 4, body: BODY }, media: [photo, badge, photo] },
  }, isExtractableFile);
  assert.equal(files.size, 2, 'extract-files sends the same File once, mapped to both paths');
  const form = new FormData();
  form.append('operations', JSON.stringify(clone));
  const map = {};
  let i = 0;
  for (const paths of files.values()) map[++i] = paths;
  form.append('map', JSON.stringify(map));
  i = 0;
  for (const file of files.keys()) form.append(`${++i}`, file, file.name);
  // When it is posted
  const response = await fetch(PATRON_URL, {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${memberToken(member)}` },
  });
  // Then all three media are on the review, in the order of the variables
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  const { review, errors } = body.data.submitReview;
  assert.deepEqual(errors, []);
  assert.deepEqual(review.media.map((m) => [m.kind, m.contentType, m.width, m.height]),
    [['PHOTO', 'image/jpeg', 64, 48], ['PHOTO', 'image/png', 32, 32], ['PHOTO', 'image/jpeg', 64, 48]]);
  for (const m of review.media) await assertServed(m.url, m.contentType);
});

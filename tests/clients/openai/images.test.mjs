// The official OpenAI Node SDK (npm `openai`, pinned in package-lock.json), unchanged, against the
// real sd-worker on loopback with a bearer token: images.generate with b64_json and url (the url
// fetched without the token gives the same PNG as b64_json for the same seed), images.edit with a
// mask (inpainting) and without (img2img), models.list, and errors surfacing as the SDK's typed
// errors (BadRequestError naming the field, AuthenticationError). docs/openai-api.md.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI, { toFile } from 'openai';
import { startWorker } from '../support/worker.mjs';
import { isPng, readPng, rgbaPng } from '../support/png.mjs';

const TOKEN = 'client-test-token';
let worker;
let client;

before(async () => {
  worker = await startWorker(['--api-token', TOKEN]);
  client = new OpenAI({ apiKey: TOKEN, baseURL: `${worker.url}/v1`, maxRetries: 0, timeout: 120_000 });
});

after(async () => {
  await worker?.stop();
});

// The worker's extensions travel in the same body (the SDK passes unknown fields through).
const small = { size: '64x64', steps: 4, seed: 7 };

test('models.list() lists the served model as an OpenAI model object', async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, 'model');
    assert.equal(typeof model.created, 'number');
    assert.equal(model.owned_by, 'sd-worker');
    ids.push(model.id);
  }
  assert.deepEqual(ids, ['demo']);
});

test('images.generate with b64_json and url: the same PNG for the same seed', async () => {
  const b64 = await client.images.generate({ prompt: 'a red fox', n: 2, response_format: 'b64_json', quality: 'hd', style: 'vivid', user: 'u1', ...small });
  assert.equal(typeof b64.created, 'number');
  assert.equal(b64.data.length, 2);
  for (const image of b64.data) {
    assert.equal(image.revised_prompt, 'a red fox');
    const png = Buffer.from(image.b64_json, 'base64');
    assert.ok(isPng(png));
    const { width, height } = readPng(png);
    assert.deepEqual([width, height], [64, 64]);
  }

  const byUrl = await client.images.generate({ prompt: 'a red fox', n: 2, response_format: 'url', model: 'demo', ...small });
  assert.equal(byUrl.data.length, 2);
  for (let i = 0; i < 2; i++) {
    const url = byUrl.data[i].url;
    assert.ok(url.startsWith(`${worker.url}/v1/images/files/`), url);
    const res = await fetch(url);  // no token: the URL is signed
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.ok(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(b64.data[i].b64_json, 'base64')));
  }
  const forged = byUrl.data[0].url.replace(/\.([0-9a-f])([0-9a-f]{63})\.png$/, (_, c, rest) => `.${c === '0' ? '1' : '0'}${rest}.png`);
  assert.notEqual(forged, byUrl.data[0].url);
  const refused = await fetch(forged);
  assert.equal(refused.status, 404);
  assert.equal((await refused.json()).error.code, 'image_not_found');
});

test('images.edit with a mask repaints, without one it is img2img', async () => {
  const image = await toFile(rgbaPng(64, 64, (x, y) => [200, 120 + y, 40 + x, 255]), 'image.png', { type: 'image/png' });
  // Transparent (alpha 0) on the left half: the area to repaint, as OpenAI defines the mask.
  const maskPng = rgbaPng(64, 64, (x) => (x < 32 ? [0, 0, 0, 0] : [0, 0, 0, 255]));
  const masked = await client.images.edit({
    image, mask: await toFile(maskPng, 'mask.png', { type: 'image/png' }), prompt: 'a blue sky', n: 1, size: '64x64', response_format: 'b64_json', seed: 3, steps: 4,
  });
  assert.equal(masked.data.length, 1);
  const inpainted = Buffer.from(masked.data[0].b64_json, 'base64');
  assert.deepEqual([readPng(inpainted).width, readPng(inpainted).height], [64, 64]);

  const again = await toFile(rgbaPng(64, 64, (x, y) => [200, 120 + y, 40 + x, 255]), 'image.png', { type: 'image/png' });
  const plain = await client.images.edit({ image: again, prompt: 'a blue sky', response_format: 'b64_json', seed: 3, steps: 4, strength: 1 });
  const transformed = Buffer.from(plain.data[0].b64_json, 'base64');
  assert.deepEqual([readPng(transformed).width, readPng(transformed).height], [64, 64]);  // the image's size
  assert.ok(!transformed.equals(inpainted));
});

test('errors surface as the SDK typed errors with OpenAI fields', async () => {
  await assert.rejects(client.images.generate({ prompt: 'x', size: '65x64' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.param, 'size');
    assert.equal(e.code, 'invalid_field');
    assert.equal(e.type, 'invalid_request_error');
    assert.match(e.message, /size/);
    return true;
  });
  await assert.rejects(client.images.generate({ prompt: 'x', model: 'dall-e-3', ...small }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, 'model');
    assert.equal(e.code, 'model_not_found');
    return true;
  });
  const image = await toFile(rgbaPng(64, 64, () => [1, 2, 3, 255]), 'image.png', { type: 'image/png' });
  const opaqueMask = await toFile(Buffer.from('not an image'), 'mask.png', { type: 'image/png' });
  await assert.rejects(client.images.edit({ image, mask: opaqueMask, prompt: 'x' }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError);
    assert.equal(e.param, 'mask');
    assert.equal(e.code, 'invalid_image');
    return true;
  });
  const stranger = new OpenAI({ apiKey: 'wrong', baseURL: `${worker.url}/v1`, maxRetries: 0 });
  await assert.rejects(stranger.images.generate({ prompt: 'x', ...small }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'invalid_api_key');
    return true;
  });
});

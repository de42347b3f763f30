// The built app (ui/dist) served by a real sd-worker at /ui/, in headless Chromium: txt2img shows
// progress then the image; Ctrl+Enter; cancel mid-job; a refused request's error; img2img from an
// uploaded file and from a paste; inpainting from a dropped file where a painted rectangle
// reaches the worker as exactly that mask; the gallery's download is the PNG with its
// parameters chunk; send-to; the token prompt; phone width. Screenshots of each tab at desktop
// and phone width go to $SDW_UI_TEST_OUTPUT/screenshots (default ui/test-output).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser, Locator, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SdWorkerClient, base64ToBytes, isPng, pngTextChunks } from '../../packages/sd-worker-sdk/src';
import { chromiumPath, launchChromium } from '../../test-support/browser';
import { startWorker, uiRoot, type WorkerHandle } from '../../test-support/worker';

const outDir = resolve(process.env.SDW_UI_TEST_OUTPUT ?? resolve(uiRoot, 'test-output'));
const shots = resolve(outDir, 'screenshots');
const distDir = resolve(uiRoot, 'dist');
const desktop = { width: 1280, height: 900 };
// Where Debian's chromium is not installed the browser tests skip, saying so (apt-get install chromium).
const noBrowser = !chromiumPath();
if (noBrowser) console.warn('app e2e: SKIPPED: no Chromium (apt-get install chromium, or set SDW_CHROMIUM)');
const phone = { width: 390, height: 844 };

let worker: WorkerHandle;
let browser: Browser;
let page: Page;
let initPng: string;  // a 64x64 PNG file made by the worker
let jobRequests: Record<string, unknown>[] = [];

beforeAll(async () => {
  if (noBrowser) return;
  if (!existsSync(resolve(distDir, 'index.html'))) throw new Error(`${distDir} is not built: run \`npm run build\` in ui/`);
  mkdirSync(shots, { recursive: true });
  worker = await startWorker(['--ui-dir', distDir]);
  const client = new SdWorkerClient({ baseUrl: worker.url });
  const made = await client.generate(await client.buildRequest('image_generation', { prompt: 'an init image', width: 64, height: 64, steps: 3, seed: 9 }));
  initPng = resolve(outDir, 'init-64.png');
  writeFileSync(initPng, base64ToBytes(made.images[0] ?? ''));
  browser = await launchChromium();
  page = await browser.newPage({ viewport: desktop, acceptDownloads: true });
  page.on('request', (r: Request) => {
    if (r.method() === 'POST' && r.url().endsWith('/v1/jobs')) jobRequests.push(r.postDataJSON() as Record<string, unknown>);
  });
  page.on('pageerror', (e) => console.error('page error:', e));
  await page.goto(`${worker.url}/ui/`);
  await page.locator('.model-line', { hasText: 'demo' }).waitFor({ timeout: 20_000 });
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
});

// Waits in the style of Playwright's own assertions (vitest's expect has none for locators).
const kWait = 30_000;
const visible = (l: Locator, timeout = kWait) => l.first().waitFor({ state: 'visible', timeout });
const hidden = (l: Locator, timeout = kWait) => l.first().waitFor({ state: 'hidden', timeout });
const count = (l: Locator, n: number, timeout = kWait) => expect.poll(() => l.count(), { timeout }).toBe(n);
const attribute = (l: Locator, name: string, timeout = kWait) => expect.poll(() => l.first().getAttribute(name), { timeout });
const text = (l: Locator, timeout = kWait) => expect.poll(async () => (await l.count()) ? l.first().textContent() : '', { timeout });

const generated = () => page.getByRole('img', { name: /^Generated image/ });
const alert = () => page.getByRole('alert');

async function setField(label: string, value: string) {
  await page.getByLabel(label, { exact: true }).fill(value);
}

// <name>-desktop.png (the whole page), <name>-phone.png (the screen) and <name>-phone-full.png.
async function screenshot(name: string) {
  await page.setViewportSize(desktop);
  await page.waitForTimeout(250);  // the progress bar's transition
  await page.screenshot({ path: resolve(shots, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(phone);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.waitForTimeout(150);
  await page.screenshot({ path: resolve(shots, `${name}-phone.png`) });
  await page.screenshot({ path: resolve(shots, `${name}-phone-full.png`), fullPage: true });
  await page.setViewportSize(desktop);
}

// Every aria-valuenow the progress bar shows, with the time, and when the first result appears.
async function watchProgress() {
  await page.evaluate(() => {
    const w = window as unknown as { seen: { v: number; t: number }[]; imageAt: number; previews: number };
    w.seen = [];
    w.imageAt = 0;
    w.previews = 0;
    const gallery = () => document.querySelectorAll('img[alt^="Generated image"]').length;
    const before = gallery();
    new MutationObserver(() => {
      const bar = document.querySelector('[role="progressbar"]');
      const v = Number(bar?.getAttribute('aria-valuenow') ?? -1);
      if (w.seen.at(-1)?.v !== v) w.seen.push({ v, t: performance.now() });
      if (!w.imageAt && gallery() > before) w.imageAt = performance.now();
      if (document.querySelector('img[alt^="Preview at step"]')) w.previews++;
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['aria-valuenow', 'src'] });
  });
}

describe.skipIf(noBrowser)('the app at /ui/', () => {
  it('txt2img: progress, a preview, then the image; Ctrl+Enter generates again', async () => {
    await attribute(page.getByRole('tab', { name: 'Text to image' }), 'aria-selected').toBe('true');
    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dusk');
    await page.getByLabel('Negative prompt').fill('blurry');
    await setField('Width', '128');
    await setField('Height', '128');
    await setField('Steps', '100');
    await setField('Seed', '1234');
    await watchProgress();
    await page.getByRole('button', { name: 'Generate' }).click();
    await count(generated(), 1);
    const { seen, imageAt, previews } = await page.evaluate(() => {
      const w = window as unknown as { seen: { v: number; t: number }[]; imageAt: number; previews: number };
      return { seen: w.seen, imageAt: w.imageAt, previews: w.previews };
    });
    expect(previews).toBeGreaterThan(0);  // a preview image was shown while it ran
    const between = seen.filter((s) => s.v > 0 && s.v < 100 && s.t <= imageAt);
    expect(between.length).toBeGreaterThan(1);  // the bar moved while the job ran, before the image
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    await attribute(generated().first(), 'alt').toMatch(/a lighthouse at dusk/);
    await text(page.getByText('Seed').locator('xpath=following-sibling::dd[1]').first()).toBe('1234');
    expect(jobRequests.at(-1)).toMatchObject({ operation: 'image_generation', width: 128, height: 128, steps: 100, seed: '1234', negative_prompt: 'blurry' });

    await page.getByLabel('Prompt', { exact: true }).fill('a lighthouse at dawn');
    await setField('Steps', '8');
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
    await count(generated(), 2);
    await attribute(generated().first(), 'alt').toMatch(/^Generated image 2: a lighthouse at dawn/);
    await page.getByText(/Prompt history/).click();
    await visible(page.getByRole('button', { name: 'a lighthouse at dusk' }));
  });

  it('the gallery downloads the PNG with its parameters chunk', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Download image 1' }).click()]);
    expect(download.suggestedFilename()).toBe('sd-1234.png');
    const bytes = new Uint8Array(readFileSync(await download.path()));
    expect(isPng(bytes)).toBe(true);
    const parameters = pngTextChunks(bytes).parameters ?? '';
    expect(parameters).toMatch(/^a lighthouse at dusk\nNegative prompt: blurry\n/);
    expect(parameters).toMatch(/Steps: 100/);
    expect(parameters).toMatch(/Seed: 1234/);
    expect(parameters).toMatch(/Size: 128x128/);
    await screenshot('txt2img');
  });

  it('Cancel stops a running job', async () => {
    await setField('Width', '256');
    await setField('Height', '256');
    await setField('Steps', '150');
    await setField('Seed', '');
    const accepted = page.waitForResponse((r) => r.url().endsWith('/v1/jobs') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Generate' }).click();
    const { job_id } = (await (await accepted).json()) as { job_id: string };
    await expect.poll(async () => Number(await page.getByRole('progressbar').getAttribute('aria-valuenow')), { timeout: 20_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await visible(page.getByText('Cancelled', { exact: true }));
    await count(generated(), 2);
    const status = await (await fetch(`${worker.url}/v1/jobs/${job_id}`)).json() as { state: string; step: number };
    expect(status.state).toBe('cancelled');
    expect(status.step).toBeLessThan(150);
    await expect.poll(() => page.getByRole('button', { name: 'Generate' }).isEnabled()).toBe(true);
  });

  it('a refused request shows the worker\'s error and marks the field', async () => {
    await setField('Width', '64');
    await setField('Height', '64');
    await setField('Steps', '500');
    await page.getByRole('button', { name: 'Generate' }).click();
    await text(alert()).toContain('steps must be');
    await text(alert()).toContain('INVALID_FIELD');
    await text(alert()).toContain('field: steps');
    await attribute(page.getByLabel('Steps'), 'aria-invalid').toBe('true');
    await setField('Steps', '6');
  });

  it('img2img from an uploaded file, and from a pasted one', async () => {
    await page.getByRole('tab', { name: 'Image to image' }).click();
    await page.getByLabel('Init image file').setInputFiles(initPng);
    await visible(page.getByText('init-64.png · 64 × 64'));
    await page.getByLabel('Prompt', { exact: true }).fill('the same scene at night');
    const before = await generated().count();
    await page.getByRole('button', { name: 'Generate' }).click();
    await count(generated(), before + 1);
    const request = jobRequests.at(-1) ?? {};
    expect(request.operation).toBe('image_transform');
    expect(String(request.input_image)).toBe(`data:image/png;base64,${readFileSync(initPng).toString('base64')}`);
    expect(request.strength).toBe(0.75);
    await screenshot('img2img');

    // A pasted image replaces it.
    const bytes = [...readFileSync(initPng)];
    await page.evaluate((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], 'clipboard.png', { type: 'image/png' }));
      document.dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true }));
    }, bytes);
    await visible(page.getByText('clipboard.png · 64 × 64'));
  });

  it('inpainting: a dropped image, a painted rectangle, and the worker gets exactly that mask', async () => {
    await page.getByRole('tab', { name: 'Inpainting' }).click();
    const bytes = [...readFileSync(initPng)];
    const zone = page.getByRole('group', { name: 'Init image' });
    const transfer = await page.evaluateHandle((data) => {
      const t = new DataTransfer();
      t.items.add(new File([new Uint8Array(data)], 'dropped.png', { type: 'image/png' }));
      return t;
    }, bytes);
    await zone.dispatchEvent('drop', { dataTransfer: transfer });
    const canvas = page.getByRole('img', { name: 'Mask editor' });
    await visible(canvas);

    // Image pixels [16, 48) x [16, 40): drag between the pixel corners' centres.
    await page.getByRole('radio', { name: 'Rectangle' }).click();
    const box = await canvas.boundingBox();
    if (!box) throw new Error('no mask canvas');
    const at = (x: number, y: number) => ({ x: box.x + ((x + 0.5) * box.width) / 64, y: box.y + ((y + 0.5) * box.height) / 64 });
    const from = at(16, 16), to = at(48, 40);
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 3 });
    await page.mouse.move(to.x, to.y, { steps: 3 });
    await page.mouse.up();
    await page.getByLabel('Prompt', { exact: true }).fill('a yellow flower');
    const before = await generated().count();
    await page.getByRole('button', { name: 'Generate' }).click();
    await count(generated(), before + 1);

    const request = jobRequests.at(-1) ?? {};
    expect(request.operation).toBe('image_inpaint');
    const mask = await page.evaluate(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d');
      if (!ctx) throw new Error('no 2d context');
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      const wrong: string[] = [];
      for (let y = 0; y < c.height; y++)
        for (let x = 0; x < c.width; x++) {
          const i = (y * c.width + x) * 4;
          const want = x >= 16 && x < 48 && y >= 16 && y < 40 ? 255 : 0;
          if (d[i] !== want || d[i + 1] !== want || d[i + 2] !== want || d[i + 3] !== 255) wrong.push(`${x},${y}`);
        }
      return { width: c.width, height: c.height, wrong: wrong.slice(0, 10), wrongCount: wrong.length };
    }, String(request.mask_image));
    expect(mask).toEqual({ width: 64, height: 64, wrong: [], wrongCount: 0 });
    expect(String(request.init_image)).toMatch(/^data:image\/png;base64,/);
    await screenshot('inpaint');

    // Undo empties the mask: nothing to send.
    await page.getByRole('button', { name: 'Undo' }).click();
    await page.getByRole('button', { name: 'Generate' }).click();
    await text(alert()).toContain('Paint the area to repaint');
  });

  it('send to img2img from the gallery', async () => {
    await page.getByRole('button', { name: 'Send image 1 to image to image' }).click();
    await attribute(page.getByRole('tab', { name: 'Image to image' }), 'aria-selected').toBe('true');
    await visible(page.getByText(/^result 1234 · 128 × 128$/));
  });

  it('phone width: one column, nothing wider than the screen; dark theme', async () => {
    await page.setViewportSize(phone);
    for (const tab of ['Text to image', 'Image to image', 'Inpainting']) {
      await page.getByRole('tab', { name: tab }).click();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
    }
    await page.getByRole('button', { name: /Switch to (dark|light) theme/ }).click();
    await page.getByRole('tab', { name: 'Text to image' }).click();
    await page.screenshot({ path: resolve(shots, 'txt2img-phone-other-theme.png') });
    await page.setViewportSize(desktop);
    await page.screenshot({ path: resolve(shots, 'txt2img-desktop-other-theme.png'), fullPage: true });
  });
});

describe.skipIf(noBrowser)('a worker with a token', () => {
  it('asks for the token, then works', async () => {
    const locked = await startWorker(['--ui-dir', distDir, '--api-token', 'ui-secret']);
    const context = await browser.newContext({ viewport: desktop });
    try {
      const p = await context.newPage();
      await p.goto(`${locked.url}/ui/`);
      const dialog = p.getByRole('dialog', { name: 'This worker needs a token' });
      await visible(dialog);
      await p.screenshot({ path: resolve(shots, 'token-desktop.png') });
      await p.getByRole('textbox', { name: 'API token' }).fill('wrong');
      await p.getByRole('button', { name: 'Use token' }).click();
      await visible(p.getByText('That token was refused.'));
      await p.getByRole('textbox', { name: 'API token' }).fill('ui-secret');
      await p.getByRole('button', { name: 'Use token' }).click();
      await hidden(dialog);
      await p.locator('.model-line', { hasText: 'demo' }).waitFor({ timeout: kWait });
      await p.getByLabel('Prompt', { exact: true }).fill('behind a token');
      await p.getByLabel('Width', { exact: true }).fill('64');
      await p.getByLabel('Height', { exact: true }).fill('64');
      await p.getByLabel('Steps').fill('4');
      await p.getByRole('button', { name: 'Generate' }).click();
      await visible(p.getByRole('img', { name: /^Generated image 1: behind a token/ }));
    } finally {
      await context.close();
      await locked.stop();
    }
  });
});

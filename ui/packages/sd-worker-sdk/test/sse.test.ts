// The SSE frame reader on byte streams cut at every awkward place (inside a line, between \r and
// \n, inside a multi-byte character), comments and multi-line data; and the final markers.
import { describe, expect, it } from 'vitest';
import { parseMarker, readSseFrames, type SseFrame } from '../src';

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
}

async function frames(chunks: Uint8Array[]): Promise<SseFrame[]> {
  const out: SseFrame[] = [];
  for await (const f of readSseFrames(streamOf(chunks))) out.push(f);
  return out;
}

const text =
  ': keep-alive\n\n' +
  'id: 1\nevent: narration\ndata: {"human":"Job queued \u00e9\u2713"}\n\n' +
  'id: 2\r\nevent: progress\r\ndata: {"step":1}\r\n\r\n' +
  'id: 3\ndata: line one\ndata: line two\n\n' +
  'id: 4\ndata: [DONE]\n\n';

const expected: SseFrame[] = [
  { id: '1', event: 'narration', data: '{"human":"Job queued \u00e9\u2713"}' },
  { id: '2', event: 'progress', data: '{"step":1}' },
  { id: '3', event: undefined, data: 'line one\nline two' },
  { id: '4', event: undefined, data: '[DONE]' },
];

describe('readSseFrames', () => {
  it('reads a whole stream', async () => {
    expect(await frames([new TextEncoder().encode(text)])).toEqual(expected);
  });

  it('reads the same however the bytes are cut', async () => {
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++)
      expect(await frames([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(expected);
    expect(await frames(Array.from(bytes, (b) => new Uint8Array([b])))).toEqual(expected);
  });
});

describe('parseMarker', () => {
  it('knows the three markers', () => {
    expect(parseMarker('[DONE]')).toEqual({ outcome: 'done', message: undefined });
    expect(parseMarker('[CANCELLED]')).toEqual({ outcome: 'cancelled', message: undefined });
    expect(parseMarker('[ERROR] job deadline exceeded')).toEqual({ outcome: 'error', message: 'job deadline exceeded' });
    expect(parseMarker('{"type":"progress"}')).toBeUndefined();
  });
});

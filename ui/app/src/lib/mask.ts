// The inpainting mask as the worker wants it: a PNG at the image's size, white where the image
// is repainted and black where it is kept. The editor paints in colour with alpha; a pixel
// counts as painted when its alpha is at least half.

export function maskPngDataUrl(painted: HTMLCanvasElement): string {
  const { width, height } = painted;
  const source = painted.getContext('2d')?.getImageData(0, 0, width, height);
  const out = document.createElement('canvas');
  out.width = width;
  out.height = height;
  const ctx = out.getContext('2d');
  if (!source || !ctx) throw new Error('this browser cannot read the mask canvas');
  const pixels = ctx.createImageData(width, height);
  for (let i = 0; i < source.data.length; i += 4) {
    const v = (source.data[i + 3] ?? 0) >= 128 ? 255 : 0;
    pixels.data[i] = v;
    pixels.data[i + 1] = v;
    pixels.data[i + 2] = v;
    pixels.data[i + 3] = 255;
  }
  ctx.putImageData(pixels, 0, 0);
  return out.toDataURL('image/png');
}

// Painted pixels become unpainted and the other way round (in the editor's colour).
export function invertMask(canvas: HTMLCanvasElement, colour: [number, number, number]): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < data.data.length; i += 4) {
    const painted = (data.data[i + 3] ?? 0) >= 128;
    data.data[i] = colour[0];
    data.data[i + 1] = colour[1];
    data.data[i + 2] = colour[2];
    data.data[i + 3] = painted ? 0 : 255;
  }
  ctx.putImageData(data, 0, 0);
}

export function isEmptyMask(canvas: HTMLCanvasElement): boolean {
  const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data;
  if (!data) return true;
  for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) >= 128) return false;
  return true;
}

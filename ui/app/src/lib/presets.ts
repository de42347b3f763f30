// Size presets for the served model's family (its training sizes and common aspect ratios), and
// the output size for an init image: its own, unless it is far larger than the family's size.

export interface SizePreset {
  label: string;
  width: number;
  height: number;
}

const square = (s: number): SizePreset => ({ label: `${s} × ${s}`, width: s, height: s });
const rect = (w: number, h: number): SizePreset => ({ label: `${w} × ${h}`, width: w, height: h });

const kPresets: Record<string, SizePreset[]> = {
  demo: [square(256), square(128), square(64), rect(320, 256), rect(256, 320)],
  sd1: [square(512), rect(512, 768), rect(768, 512), rect(640, 448), rect(448, 640)],
  sd2: [square(768), square(512), rect(768, 1024), rect(1024, 768)],
  sdxl: [square(1024), rect(1152, 896), rect(896, 1152), rect(1216, 832), rect(832, 1216), rect(1344, 768), rect(768, 1344)],
};

export function presetsFor(family: string | undefined, width?: number, height?: number): SizePreset[] {
  const list = kPresets[family ?? ''] ?? [];
  if (width && height && !list.some((p) => p.width === width && p.height === height)) return [rect(width, height), ...list];
  return list.length > 0 ? list : [square(512)];
}

export const roundTo8 = (v: number) => Math.max(8, Math.floor(v / 8) * 8);

// The size to ask for with an init image: undefined (the worker uses the image's own size,
// rounded down to multiples of 8) unless its long side is over twice the family's; then the
// image is scaled so its long side is the family's.
export function outputSizeFor(imageWidth: number, imageHeight: number, familySide: number): { width: number; height: number } | undefined {
  const longSide = Math.max(imageWidth, imageHeight);
  if (longSide <= 2 * familySide) return undefined;
  const scale = familySide / longSide;
  return { width: roundTo8(imageWidth * scale), height: roundTo8(imageHeight * scale) };
}

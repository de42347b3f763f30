// Images in the browser: files to data: URLs with their pixel size, base64 to Blob URLs for
// downloads, and the init image a pasted or dropped file gives.
import { base64ToBytes } from 'sd-worker-sdk';

export interface LoadedImage {
  dataUrl: string;
  width: number;
  height: number;
  name: string;
}

export function readFileAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('cannot read the file'));
    reader.readAsDataURL(file);
  });
}

export function imageSize(dataUrl: string): Promise<{ width: number; height: number }> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve({ width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => reject(new Error('the file is not an image this browser can read'));
    img.src = dataUrl;
  });
}

export async function loadImageFile(file: File): Promise<LoadedImage> {
  if (file.type && !file.type.startsWith('image/')) throw new Error(`${file.name || 'the file'} is not an image (${file.type})`);
  const dataUrl = await readFileAsDataUrl(file);
  return { dataUrl, ...(await imageSize(dataUrl)), name: file.name || 'pasted image' };
}

export function dataUrlOf(base64: string, format = 'png'): string {
  return `data:image/${format === 'jpg' ? 'jpeg' : format};base64,${base64}`;
}

export function blobUrlOf(base64: string, format = 'png'): string {
  const bytes = base64ToBytes(base64);
  return URL.createObjectURL(new Blob([bytes.slice().buffer], { type: `image/${format === 'jpg' ? 'jpeg' : format}` }));
}

// The first image file of a paste or drop, if any.
export function imageFileOf(data: DataTransfer | null): File | undefined {
  if (!data) return undefined;
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind === 'file' && item.type.startsWith('image/')) {
      const file = item.getAsFile();
      if (file) return file;
    }
  }
  return Array.from(data.files ?? []).find((f) => f.type.startsWith('image/'));
}

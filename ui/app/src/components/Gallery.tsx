// This session's results, newest first, each with its parameters: download (the PNG as the
// worker made it, `parameters` chunk included), send to img2img or inpainting, reuse its seed.
import { useEffect, useMemo } from 'react';
import { blobUrlOf, dataUrlOf } from '../lib/images';
import { samplerLabel } from '../lib/samplers';
import type { Mode } from './Tabs';

export interface GalleryItem {
  key: string;
  jobId: string;
  index: number;       // within its job
  count: number;       // images of its job
  image: string;       // base64
  format: string;
  width: number;
  height: number;
  mode: Mode;
  prompt: string;
  negativePrompt: string;
  seed: string;
  steps: number;
  guidance: number;
  scheduler: string;
  strength: number | undefined;
  elapsedMs: number;
}

function Download({ item, number }: { item: GalleryItem; number: number }) {
  const url = useMemo(() => blobUrlOf(item.image, item.format), [item.image, item.format]);
  useEffect(() => () => URL.revokeObjectURL(url), [url]);
  const ext = item.format === 'jpeg' || item.format === 'jpg' ? 'jpg' : 'png';
  return (
    <a className="button-like" href={url} download={`sd-${item.seed}${item.count > 1 ? `-${item.index + 1}` : ''}.${ext}`}
      aria-label={`Download image ${number}`}>
      Download
    </a>
  );
}

export function Gallery({ items, onSend, onReuseSeed }: {
  items: GalleryItem[];
  onSend: (item: GalleryItem, mode: Mode) => void;
  onReuseSeed: (seed: string) => void;
}) {
  if (items.length === 0) return <p className="hint empty-gallery">Generated images appear here.</p>;
  return (
    <ul className="gallery" aria-label="Gallery">
      {items.map((item, i) => {
        const number = items.length - i;
        return (
          <li key={item.key} className="card">
            <img src={dataUrlOf(item.image, item.format)} width={item.width} height={item.height}
              alt={`Generated image ${number}: ${item.prompt}`} />
            <div className="card-body">
              <p className="card-prompt">
                {item.mode !== 'txt2img' ? <span className="badge">{item.mode === 'img2img' ? 'img2img' : 'inpaint'}</span> : null}
                {item.prompt}
              </p>
              {item.negativePrompt ? <p className="card-negative">Negative: {item.negativePrompt}</p> : null}
              <dl className="params">
                <dt>Seed</dt><dd>{item.seed}</dd>
                <dt>Size</dt><dd>{item.width} × {item.height}</dd>
                <dt>Steps</dt><dd>{item.steps}</dd>
                <dt>Guidance</dt><dd>{item.guidance}</dd>
                <dt>Sampler</dt><dd>{item.scheduler ? samplerLabel(item.scheduler) : 'default'}</dd>
                {item.strength !== undefined ? (<><dt>Strength</dt><dd>{item.strength}</dd></>) : null}
                <dt>Time</dt><dd>{item.elapsedMs < 1000 ? `${Math.round(item.elapsedMs)} ms` : `${(item.elapsedMs / 1000).toFixed(1)} s`}</dd>
              </dl>
              <div className="button-row">
                <Download item={item} number={number} />
                <button type="button" onClick={() => onSend(item, 'img2img')} aria-label={`Send image ${number} to image to image`}>To img2img</button>
                <button type="button" onClick={() => onSend(item, 'inpaint')} aria-label={`Send image ${number} to inpainting`}>To inpaint</button>
                <button type="button" onClick={() => onReuseSeed(item.seed)} aria-label={`Reuse the seed of image ${number}`}>Reuse seed</button>
              </div>
            </div>
          </li>
        );
      })}
    </ul>
  );
}

// The inpainting mask, painted on a canvas over the init image at the image's own size: brush,
// eraser and rectangle with a size, undo/redo, clear, invert and the mask's opacity; mouse, pen
// and touch (pointer events). White in the mask sent = repaint (lib/mask.ts).
import { forwardRef, useEffect, useImperativeHandle, useRef, useState, type MutableRefObject, type PointerEvent } from 'react';
import type { LoadedImage } from '../lib/images';
import { invertMask, isEmptyMask, maskPngDataUrl } from '../lib/mask';
import { Field } from './Field';

export interface MaskEditorHandle {
  // The mask as a PNG data: URL at the image's size, or undefined when nothing is painted.
  exportMask: () => string | undefined;
}

type Tool = 'brush' | 'eraser' | 'rectangle';
const kColour: [number, number, number] = [255, 48, 96];
const kMaxUndo = 40;

export const MaskEditor = forwardRef<MaskEditorHandle, { image: LoadedImage }>(function MaskEditor({ image }, ref) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [tool, setTool] = useState<Tool>('brush');
  const [size, setSize] = useState(() => Math.max(4, Math.round(Math.max(image.width, image.height) / 16)));
  const [opacity, setOpacity] = useState(0.55);
  const undo = useRef<ImageData[]>([]);
  const redo = useRef<ImageData[]>([]);
  const [, setHistoryVersion] = useState(0);
  const stroke = useRef<{ x: number; y: number; snapshot: ImageData | undefined } | null>(null);

  const ctx = () => canvas.current?.getContext('2d', { willReadFrequently: true }) ?? null;

  useEffect(() => {
    undo.current = [];
    redo.current = [];
    setHistoryVersion((v) => v + 1);
  }, [image]);

  useImperativeHandle(ref, () => ({
    exportMask: () => (canvas.current && !isEmptyMask(canvas.current) ? maskPngDataUrl(canvas.current) : undefined),
  }));

  const snapshot = () => {
    const c = ctx();
    return c && canvas.current ? c.getImageData(0, 0, canvas.current.width, canvas.current.height) : undefined;
  };
  const remember = (before: ImageData | undefined) => {
    if (!before) return;
    undo.current = [...undo.current.slice(-(kMaxUndo - 1)), before];
    redo.current = [];
    setHistoryVersion((v) => v + 1);
  };

  // Client coordinates -> image pixels (the canvas is drawn scaled to fit).
  const toImage = (e: PointerEvent) => {
    const c = canvas.current;
    if (!c) return { x: 0, y: 0 };
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * c.width) / r.width, y: ((e.clientY - r.top) * c.height) / r.height };
  };

  const paintLine = (from: { x: number; y: number }, to: { x: number; y: number }) => {
    const c = ctx();
    if (!c) return;
    c.globalCompositeOperation = tool === 'eraser' ? 'destination-out' : 'source-over';
    c.strokeStyle = `rgb(${kColour.join(',')})`;
    c.lineWidth = size;
    c.lineCap = 'round';
    c.lineJoin = 'round';
    c.beginPath();
    c.moveTo(from.x, from.y);
    c.lineTo(to.x, to.y);
    c.stroke();
  };

  const fillRect = (a: { x: number; y: number }, b: { x: number; y: number }) => {
    const c = ctx();
    if (!c) return;
    const x0 = Math.floor(Math.min(a.x, b.x)), y0 = Math.floor(Math.min(a.y, b.y));
    const x1 = Math.floor(Math.max(a.x, b.x)), y1 = Math.floor(Math.max(a.y, b.y));
    c.globalCompositeOperation = 'source-over';
    c.fillStyle = `rgb(${kColour.join(',')})`;
    c.fillRect(x0, y0, x1 - x0, y1 - y0);
  };

  const onPointerDown = (e: PointerEvent<HTMLCanvasElement>) => {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    e.currentTarget.setPointerCapture(e.pointerId);
    const at = toImage(e);
    stroke.current = { ...at, snapshot: snapshot() };
    remember(stroke.current.snapshot);
    if (tool !== 'rectangle') paintLine(at, at);
  };
  const onPointerMove = (e: PointerEvent<HTMLCanvasElement>) => {
    const s = stroke.current;
    if (!s) return;
    const at = toImage(e);
    if (tool === 'rectangle') {
      if (s.snapshot) ctx()?.putImageData(s.snapshot, 0, 0);
      fillRect(s, at);
      return;
    }
    paintLine(s, at);
    stroke.current = { ...at, snapshot: s.snapshot };
  };
  const onPointerUp = (e: PointerEvent<HTMLCanvasElement>) => {
    const s = stroke.current;
    if (s && tool === 'rectangle') {
      if (s.snapshot) ctx()?.putImageData(s.snapshot, 0, 0);
      fillRect(s, toImage(e));
    }
    stroke.current = null;
  };

  const step = (from: MutableRefObject<ImageData[]>, to: MutableRefObject<ImageData[]>) => {
    const c = ctx();
    const data = from.current.at(-1);
    if (!c || !data) return;
    const now = snapshot();
    if (now) to.current = [...to.current, now];
    from.current = from.current.slice(0, -1);
    c.putImageData(data, 0, 0);
    setHistoryVersion((v) => v + 1);
  };

  const clear = () => {
    const c = ctx();
    if (!c || !canvas.current) return;
    remember(snapshot());
    c.clearRect(0, 0, canvas.current.width, canvas.current.height);
  };
  const invert = () => {
    if (!canvas.current) return;
    remember(snapshot());
    invertMask(canvas.current, kColour);
  };

  return (
    <div className="mask-editor">
      <div className="mask-toolbar" role="toolbar" aria-label="Mask tools">
        <div role="radiogroup" aria-label="Tool" className="segmented">
          {(['brush', 'eraser', 'rectangle'] as Tool[]).map((t) => (
            <button key={t} type="button" role="radio" aria-checked={tool === t} onClick={() => setTool(t)}>
              {t === 'brush' ? 'Brush' : t === 'eraser' ? 'Eraser' : 'Rectangle'}
            </button>
          ))}
        </div>
        <Field id="mask-brush-size" label="Brush size" className="inline-field">
          <input id="mask-brush-size" type="range" min={1} max={Math.max(8, Math.round(Math.max(image.width, image.height) / 4))} value={size}
            onChange={(e) => setSize(Number(e.target.value))} />
        </Field>
        <Field id="mask-opacity" label="Mask opacity" className="inline-field">
          <input id="mask-opacity" type="range" min={0.1} max={1} step={0.05} value={opacity}
            onChange={(e) => setOpacity(Number(e.target.value))} />
        </Field>
        <div className="button-row">
          <button type="button" onClick={() => step(undo, redo)} disabled={undo.current.length === 0}>Undo</button>
          <button type="button" onClick={() => step(redo, undo)} disabled={redo.current.length === 0}>Redo</button>
          <button type="button" onClick={clear}>Clear mask</button>
          <button type="button" onClick={invert}>Invert mask</button>
        </div>
      </div>
      <div className="mask-stage" style={{ aspectRatio: `${image.width} / ${image.height}` }}>
        <img src={image.dataUrl} alt={`Init image: ${image.name}`} draggable={false} />
        <canvas
          ref={canvas}
          key={image.dataUrl}
          width={image.width}
          height={image.height}
          aria-label="Mask editor"
          role="img"
          style={{ opacity }}
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onKeyDown={(e) => {
            if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'z') {
              e.preventDefault();
              if (e.shiftKey) step(redo, undo);
              else step(undo, redo);
            }
          }}
          tabIndex={0}
        />
      </div>
      <p className="hint">Paint where the image should change (white in the mask sent). Ctrl+Z undoes, Ctrl+Shift+Z redoes.</p>
    </div>
  );
});

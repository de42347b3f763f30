// The init image: chosen with a file picker, dropped on the zone, or pasted (Ctrl+V anywhere
// while this mode is open). Shows the image and its size.
import { useEffect, useId, useState, type DragEvent } from 'react';
import { imageFileOf, loadImageFile, type LoadedImage } from '../lib/images';

export function ImageInput({ image, onImage, onError, showPreview = true }: {
  image: LoadedImage | undefined;
  onImage: (image: LoadedImage | undefined) => void;
  onError: (error: Error) => void;
  showPreview?: boolean;
}) {
  const [dragging, setDragging] = useState(false);
  const inputId = useId();

  const take = (file: File | undefined) => {
    if (!file) return;
    loadImageFile(file).then(onImage, (e: unknown) => onError(e instanceof Error ? e : new Error(String(e))));
  };

  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const file = imageFileOf(e.clipboardData);
      if (file) {
        e.preventDefault();
        take(file);
      }
    };
    document.addEventListener('paste', onPaste);
    return () => document.removeEventListener('paste', onPaste);
  });

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    setDragging(false);
    take(imageFileOf(e.dataTransfer));
  };

  return (
    <div className={`dropzone${dragging ? ' dragging' : ''}`} role="group" aria-label="Init image"
      onDragOver={(e) => {
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={onDrop}>
      {image && showPreview ? <img className="init-preview" src={image.dataUrl} alt={`Init image: ${image.name}`} /> : null}
      <div className="dropzone-text">
        {image ? (
          <span>{image.name} · {image.width} × {image.height}</span>
        ) : (
          <span>Drop an image here, paste one, or</span>
        )}
        <label htmlFor={inputId} className="button-like">{image ? 'Replace image' : 'Choose image'}</label>
        <input id={inputId} className="visually-hidden" type="file" accept="image/*" aria-label="Init image file"
          onChange={(e) => {
            take(e.target.files?.[0]);
            e.target.value = '';
          }} />
        {image ? <button type="button" onClick={() => onImage(undefined)}>Remove image</button> : null}
      </div>
    </div>
  );
}

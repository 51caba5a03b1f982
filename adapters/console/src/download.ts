import { fileBlob } from './file-blob.ts';

/**
 * Saves text the page already holds as a file (a blob URL: nothing is fetched again, nothing leaves the browser); a
 * CSV with the UTF-8 byte-order mark Excel needs (./file-blob.ts).
 */
export const saveAs = (text: string, type: string, fileName: string): void => {
  const url = URL.createObjectURL(fileBlob(text, type));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.click();
  // The download has started from the URL by now; keep it a moment for slow browsers, then free the blob.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

import { describe, expect, it } from 'vitest';
import { fileBlob } from '../adapters/console/src/file-blob.ts';

/*
 * Excel opens a CSV without a byte-order mark in the system's legacy code page: a subscriber, a reason or an actor
 * outside ASCII reads as mojibake. The file the console saves starts with the UTF-8 BOM (EF BB BF); the API's CSV
 * body, which integrators parse, does not change (test/console-browser.test.ts downloads one through the page).
 */

const bytesOf = async (blob: Blob): Promise<number[]> => [...new Uint8Array(await blob.arrayBuffer())];

describe('a file the console saves', () => {
  it('a CSV starts with the UTF-8 byte-order mark, then the CSV text as UTF-8', async () => {
    const csv = 'position,subscriber\r\n7,Stadtwerke Zürich\r\n';
    const blob = fileBlob(csv, 'text/csv');
    expect(blob.type).toBe('text/csv');
    const bytes = await bytesOf(blob);
    expect(bytes.slice(0, 3)).toEqual([0xef, 0xbb, 0xbf]);
    expect(Buffer.from(bytes.slice(3)).toString('utf8')).toBe(csv);
  });

  it('carries one byte-order mark, not two, when the text already starts with one', async () => {
    const bytes = await bytesOf(fileBlob('\uFEFFposition\r\n', 'text/csv'));
    expect(bytes.slice(0, 6)).toEqual([0xef, 0xbb, 0xbf, ...Buffer.from('pos')]);
  });

  it('leaves any other file as its text: an evidence bundle is JSON without a byte-order mark', async () => {
    const json = '{"format":"credence-evidence-bundle/v2"}';
    expect(Buffer.from(await bytesOf(fileBlob(json, 'application/json'))).toString('utf8')).toBe(json);
  });
});

/**
 * Issue 14: the web console bundles domain/ code (base64url, the evidence verifier) into a browser, which has no
 * Buffer. Without Buffer the domain's byte encodings fall back to btoa / atob and must give exactly the same
 * results, canonical checks included.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as onNode from '../domain/crypto/base64url.ts';
import * as transparencyOnNode from '../domain/transparency/bytes.ts';
import { toHex } from '../domain/crypto/bytes.ts';

type Base64url = typeof onNode;
type Base64 = typeof transparencyOnNode;

describe('domain byte encodings without Buffer (as in a browser)', () => {
  let web: Base64url;
  let transparencyWeb: Base64;
  beforeAll(async () => {
    vi.resetModules();
    vi.stubGlobal('Buffer', undefined);
    try {
      web = await import('../domain/crypto/base64url.ts');
      transparencyWeb = await import('../domain/transparency/bytes.ts');
    } finally {
      vi.unstubAllGlobals();
    }
  });
  afterAll(() => vi.resetModules());

  it('encodes and decodes base64url and base64 exactly as on Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const url = web.toBase64url(bytes);
        expect(url).toBe(onNode.toBase64url(bytes));
        expect(web.tryFromBase64url(url)).toEqual(new Uint8Array(bytes));
        const b64 = transparencyWeb.toBase64(bytes);
        expect(b64).toBe(transparencyOnNode.toBase64(bytes));
        expect(transparencyWeb.fromBase64(b64)).toEqual(new Uint8Array(bytes));
      }),
    );
  });

  it('refuses what is not canonical, like on Node', () => {
    for (const text of ['AB', 'AB=', 'A', 'ab+c', 'QQ==', '!!!!', 'AAB']) {
      expect(web.tryFromBase64url(text), text).toEqual(onNode.tryFromBase64url(text));
      expect(transparencyWeb.fromBase64(text), text).toEqual(transparencyOnNode.fromBase64(text));
    }
    expect(toHex(new Uint8Array([0, 15, 255]))).toBe('000fff');
  });
});

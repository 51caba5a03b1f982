import { KeyHandle, type KeyListPage } from '../../../../domain/ports/secure-environment.ts';
import { PageCollector } from '../key-listing.ts';
import { ckr, pkcs11js, type Pkcs11, type Pkcs11Handle, type Pkcs11Template } from './module.ts';
import { searchObjects } from './object-search.ts';
import { encodeLabel, ownerLabels } from './token-objects.ts';

const BATCH = 64;

/**
 * Every CKA_LABEL a key of `owner` can carry (ownerLabels), with the class of its key object: a token matches a
 * template exactly, with no prefix search, and a search by label lets the token pass over other owners' objects
 * rather than Credence reading each one's label. The public half of a pair is left out (its class), so a key is
 * found once.
 */
const templates = (owner: string) =>
  ownerLabels(owner).map(({ label, pair }) => {
    const template: Pkcs11Template = [
      { type: pkcs11js.CKA_CLASS, value: pair ? pkcs11js.CKO_PRIVATE_KEY : pkcs11js.CKO_SECRET_KEY },
      { type: pkcs11js.CKA_LABEL, value: encodeLabel(label) },
    ];
    return { label, template };
  });

const search = (module: Pkcs11, session: Pkcs11Handle, template: Pkcs11Template, each: (object: Pkcs11Handle) => void): void =>
  searchObjects(module, session, template, BATCH, (batch) => batch.forEach(each));

/**
 * One page of `owner`'s keys in the token: the token objects, and this process's session objects (PKCS#11 shows an
 * application its own session objects only). A destroyed key has no object left, so it is not found. Only CKA_ID
 * and CKA_TOKEN are read, never a value; an object whose CKA_ID is no handle is not Credence's and is passed over,
 * as is one destroyed between the search and the read. The labels are taken as they are: describe and destroy
 * check every object under a handle (objects-under-id.ts), as they do for any handle.
 */
export const listTokenKeys = (module: Pkcs11, session: Pkcs11Handle, owner: string, request: { readonly after?: KeyHandle; readonly limit: number }): KeyListPage => {
  const page = new PageCollector(request);
  for (const { label, template } of templates(owner)) {
    search(module, session, template, (object) => {
      let attributes;
      try {
        attributes = module.C_GetAttributeValue(session, object, [{ type: pkcs11js.CKA_ID }, { type: pkcs11js.CKA_TOKEN }]);
      } catch (error) {
        if (ckr(error) === 'CKR_OBJECT_HANDLE_INVALID') return;
        throw error;
      }
      const [id, token] = attributes;
      const handle = KeyHandle.safeParse(Buffer.isBuffer(id?.value) ? id.value.toString('utf8') : undefined);
      if (!handle.success) return;
      const ephemeral = !(Buffer.isBuffer(token?.value) && token.value[0] === 1);
      page.offer({ handle: handle.data, kind: label.kind, ...(label.usage ? { usage: label.usage } : {}), ephemeral });
    });
  }
  return page.page();
};

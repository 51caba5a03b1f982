import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NodeId } from '../domain/ids.ts';

// Loaded at run time: these sources are type-checked by the console's own project (DOM lib), not by this Node one.
const consoleSource = (file: string): string => new URL(`../adapters/console/src/${file}`, import.meta.url).href;
const { entityIdRefusal, isEntityId, EntityId } = (await import(consoleSource('path-names.ts'))) as {
  entityIdRefusal: (id: string) => string | undefined;
  isEntityId: (id: string) => boolean;
  EntityId: { safeParse: (v: unknown) => { success: boolean } };
};
const { parseRoute } = (await import(consoleSource('router.ts'))) as { parseRoute: (hash: string) => { id?: string } };

/*
 * Review 363, finding 2: the console took an entity id of up to 256 characters, and said "up to 255 letters", where
 * the domain's rule (domain/ids.ts) allows 128: an id of 129 to 256 characters was sent and answered 404 instead of
 * being refused as no id. The console now holds ids to the domain's own rule, and its forms say so.
 */
const longest = `meter-${'n'.repeat(122)}`;
const tooLong = `${longest}x`;

describe("the console's entity ids", () => {
  it("agree with the domain's rule on either side of its bound", () => {
    expect([longest.length, tooLong.length]).toEqual([128, 129]);
    for (const id of [longest, tooLong, 'meter-1', 'a', '', 'meter 3', '-x', 'a/b', 'x'.repeat(256), 'x'.repeat(300)]) {
      const domain = NodeId.safeParse(id).success;
      expect({ id, console: isEntityId(id) }).toEqual({ id, console: domain });
      expect({ id, form: entityIdRefusal(id) === undefined }).toEqual({ id, form: domain });
      expect({ id, context: EntityId.safeParse(id).success }).toEqual({ id, context: domain });
    }
  });

  it('refuse an id past 128 characters in an address, as no id', () => {
    expect(parseRoute(`#/entity/node/${longest}`).id).toBe(longest);
    expect(parseRoute(`#/entity/node/${tooLong}`).id).toBeUndefined();
    expect(parseRoute(`#/verify/node/${tooLong}`).id).toBeUndefined();
  });

  it('are described by the bound the domain has', () => {
    expect(entityIdRefusal(tooLong)).toMatch(/is not an entity id: an id is 1 to 128 letters, digits and \. _ : ~ -, starting with a letter or digit \(no space, no \/\)$/);
  });

  it.each(['components/entity-picker.ts', 'components/evidence-verify.ts'])('are not cut short by the form, nor allowed past the bound: %s', (file) => {
    const source = readFileSync(new URL(`../adapters/console/src/${file}`, import.meta.url), 'utf8');
    // One more than the bound: a longer id pasted is refused in words, not cut to a legal one and opened.
    expect(source).not.toMatch(/maxlength="256"/);
    expect(source).toMatch(/maxlength=\$\{ENTITY_ID_INPUT_CHARS\}/);
  });
});

import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import { atomicWriteTempName, fsyncFolder, TEMP_RANDOM_BYTES } from '../files/atomic-write.ts';

/** Serials written per turn of the event loop: a few ms each, so that CRL and OCSP requests are answered between. */
const PER_TURN = 16_384;

/**
 * Every byte of `text` written at the file's position (`path`, the file it is to become, names it in an error): a
 * write may take fewer bytes than it is given (review 464: the rest was dropped, leaving a gap in a file still renamed
 * into place), and one taking none is refused rather than tried forever. The loop of atomic-write.ts's writeAll,
 * awaited here so that requests are answered between (that one is synchronous, on a descriptor).
 */
const writeAll = async (file: FileHandle, text: string, path: string): Promise<void> => {
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length; ) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    if (bytesWritten <= 0) throw new Error(`writing ${path}: a write took no byte (${bytes.length - offset} of ${bytes.length} left); the file is left as it was`);
    offset += bytesWritten;
  }
};

/**
 * Writes, as writeFileAtomic does (a temp file fsynced, renamed over `path`, the folder fsynced), the JSON object
 * `head` with the string arrays `lists` added as its last members, a slice at a time between turns of the event loop
 * (review 157: a base of a million serials, written at once, held the service for seconds).
 */
export const writeJsonInTurns = async (path: string, head: Record<string, unknown>, lists: Readonly<Record<string, readonly string[]>>): Promise<void> => {
  const temp = join(dirname(path), atomicWriteTempName(basename(path), process.pid, randomBytes(TEMP_RANDOM_BYTES)));
  const file = await open(temp, 'wx', 0o600);
  try {
    try {
      await file.chmod(0o600);
      let text = JSON.stringify(head).slice(0, -1);
      let first = Object.keys(head).length === 0;
      for (const [name, list] of Object.entries(lists)) {
        text += `${first ? '' : ','}${JSON.stringify(name)}:[`;
        first = false;
        for (let i = 0; i < list.length; i += PER_TURN) {
          text += `${i === 0 ? '' : ','}${list.slice(i, i + PER_TURN).map((s) => JSON.stringify(s)).join(',')}`;
          await writeAll(file, text, path);
          text = '';
          await turn();
        }
        text += ']';
      }
      await writeAll(file, `${text}}\n`, path);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  fsyncFolder(dirname(path));
};

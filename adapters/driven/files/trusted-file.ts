import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const POSIX = process.platform !== 'win32';
const STICKY = 0o1000;

/**
 * Why a file whose content decides what is trusted (a pinned log verifier key, the request-signing policy of SER-016)
 * cannot be relied on, if it cannot: whoever may write it, or replace it in its folder, chooses the key a forged
 * bundle or a forged request is held to (review 81). Refused when an account other than this one and root owns the
 * file, when group or others may write it, or when they may write its folder (a sticky folder such as /tmp aside: no
 * one but the file's owner may rename or remove it there). Read-only for others is fine: the content is public.
 * Undefined when the file is fine or absent (its read then says so).
 */
export const untrustworthyFileProblem = (file: string): string | undefined => {
  if (!POSIX) return undefined;
  const self = process.geteuid?.();
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat === undefined || self === undefined) return undefined;
  if (stat.uid !== self && stat.uid !== 0) return `${file} is owned by uid ${stat.uid}, not by this account (uid ${self}) or root: that account chooses what it trusts; chown it, or copy it to a file of yours`;
  if ((stat.mode & 0o022) !== 0) return `${file} may be written by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(4, '0')}): they choose what it trusts; chmod go-w ${file}`;
  const folder = dirname(resolve(file));
  const folderStat = statSync(folder, { throwIfNoEntry: false });
  if (folderStat !== undefined && (folderStat.mode & 0o022) !== 0 && (folderStat.mode & STICKY) === 0) {
    return `${file} is in ${folder}, which group or others may write (mode ${(folderStat.mode & 0o777).toString(8).padStart(4, '0')}): they may put another file in its place; chmod go-w ${folder}, or move the file`;
  }
  return undefined;
};

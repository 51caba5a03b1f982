/** `word` as one POSIX shell word: as it is when it holds only safe characters, else single-quoted. */
export const shellWord = (word: string): string => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

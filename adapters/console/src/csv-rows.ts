/**
 * How many rows a CSV of the server's (adapters/http/routes/csv.ts: RFC 4180, a header row, CRLF line ends, fields
 * holding a line break quoted) holds under its header: its records, a line break inside quotes not ending one. Said
 * after a download, since the file is read afresh and may hold other rows than the table shown (review 248).
 */
export const csvRowCount = (text: string): number => {
  let records = 0;
  let quoted = false;
  let open = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    if (c === '\n' && !quoted) {
      // A blank line is no record: the server writes none (every row has its columns), a final line break ends one.
      if (open) records += 1;
      open = false;
    } else if (c !== '\r') open = true;
  }
  if (open) records += 1;
  return Math.max(0, records - 1);
};

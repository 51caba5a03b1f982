const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * What a Retry-After header asks to wait, in ms (0 for a time already past; Infinity past ten digits): delay-seconds,
 * or an HTTP date (RFC 9110 10.2.3), which Credence does not send but a proxy in front of it may. Undefined without
 * one, or for one of neither form. `now` is the time the date is taken against (domain/ reads no clock).
 *
 * Here because both clients of the API read it and domain/ is the one place both may import: the web console
 * (adapters/console/src, in a browser) and adapters/client (the CLI). Each had its own reader, and they differed: the
 * console took nine digits and any date `Date.parse` reads (`1.5`, `-5`), the CLI ten and IMF-fixdate only (review 222).
 */
export const retryAfterMs = (value: string | null | undefined, now: number): number | undefined => {
  const text = value?.trim();
  if (text === undefined || text === '') return undefined;
  // Past ten digits (some 317 years) a wait longer than any, never printed (it read 1e+20 s, review 222); a stream
  // waits its longest for it.
  if (/^\d+$/.test(text)) return text.length > 10 ? Number.POSITIVE_INFINITY : Number(text) * 1000;
  // The date only in the form RFC 9110 5.6.7 has senders write (IMF-fixdate): Date.parse also reads `1.5` or `-5`.
  if (!IMF_FIXDATE.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
};

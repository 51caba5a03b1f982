/**
 * An instant a compliance query is given, to the nanosecond it may be written with: the millisecond it falls in
 * (`date`), and how far past it (`fraction`, of a millisecond, 0 up to 1). Events' instants (`at`) are whole
 * milliseconds, as Date.parse reads them; a parameter read by Date alone lost its digits past the third, moving a
 * window's edge (review 155: from=…00.000500Z took in an event at …00.000Z, and to=…00.000500Z left it out).
 */
export interface QueryInstant {
  readonly date: Date;
  readonly fraction: number;
}

/** `text`, an ISO 8601 date-time zod has checked (its seconds' fraction, if any, right after them). */
export const queryInstantOf = (text: string): QueryInstant => {
  const past = /T\d{2}:\d{2}:\d{2}\.\d{3}(\d+)/.exec(text)?.[1];
  return { date: new Date(Date.parse(text)), fraction: past === undefined ? 0 : Number(`0.${past}`) };
};

/** Whether `a` is earlier than `b`, to every digit they were written with. */
export const isBefore = (a: QueryInstant, b: QueryInstant): boolean =>
  a.date.getTime() < b.date.getTime() || (a.date.getTime() === b.date.getTime() && a.fraction < b.fraction);

/**
 * The first whole millisecond at or after `instant`: an edge of a window [from, to) over whole-millisecond instants
 * (an event at x.000 ms is before x.0005, so neither `from` nor `to` at x.0005 holds it; both at x.001 do the same).
 */
export const edgeOf = (instant: QueryInstant): Date => new Date(instant.date.getTime() + (instant.fraction > 0 ? 1 : 0));

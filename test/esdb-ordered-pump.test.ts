import { PassThrough, Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OrderedPump } from '../adapters/driven/store/eventstoredb/ordered-pump.ts';

// The client raises `caughtUp` and checkpoints as events while events before them may still sit in its buffer;
// the pump must put each marker after exactly the events that preceded it on the wire.

type Item = { kind: 'event'; n: number } | { kind: 'marker' };

async function drain(pump: OrderedPump<Item>): Promise<Item[]> {
  const out: Item[] = [];
  for (let next = await pump.next(); next.done !== true; next = await pump.next()) out.push(next.value);
  return out;
}

describe('ordered pump', () => {
  it('delivers a marker after the events still buffered when it was raised, not before', async () => {
    // Like the client's Subscription: a Transform that raises markers as events while transforming.
    const source = new Transform({
      objectMode: true,
      highWaterMark: 4,
      transform(chunk: number | 'caughtUp', _encoding, next) {
        if (chunk === 'caughtUp') {
          this.emit('caughtUp');
          next();
        } else next(null, chunk);
      },
    });
    const pump = new OrderedPump<Item>(source, (n) => ({ kind: 'event', n: n as number }), 2);
    source.on('caughtUp', () => pump.signal({ kind: 'marker' }));
    for (let n = 0; n < 6; n += 1) source.write(n);
    source.write('caughtUp');
    for (let n = 6; n < 9; n += 1) source.write(n);
    source.end();
    const first = await pump.next();
    // Back-pressure has paused the source with events still in its buffer.
    expect(source.isPaused()).toBe(true);
    expect(source.readableLength).toBeGreaterThan(0);
    const items = [first.value as Item, ...(await drain(pump))];
    expect(items.map((i) => (i.kind === 'event' ? i.n : 'marker'))).toEqual([0, 1, 2, 3, 4, 5, 'marker', 6, 7, 8]);
  });

  it('hands over queued events before the failure that ended the source', async () => {
    const source = new PassThrough({ objectMode: true });
    const pump = new OrderedPump<Item>(source, (n) => ({ kind: 'event', n: n as number }));
    source.write(1);
    await new Promise((resolve) => setImmediate(resolve));
    source.destroy(new Error('dropped'));
    expect(await pump.next()).toEqual({ done: false, value: { kind: 'event', n: 1 } });
    await expect(pump.next()).rejects.toThrow('dropped');
  });

  it('resolves a pending next() as done when closed', async () => {
    const source = new PassThrough({ objectMode: true });
    const pump = new OrderedPump<Item>(source, (n) => ({ kind: 'event', n: n as number }));
    const pending = pump.next();
    pump.close();
    expect(await pending).toEqual({ done: true, value: undefined });
  });
});

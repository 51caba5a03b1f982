import { describe, expect, it } from 'vitest';
import { parseRoute } from '../adapters/console/src/router.ts';

/*
 * Found in review: the console took any kind and id from the URL hash into API paths, and `..` there (which
 * encodeURIComponent leaves as it is, and the URL parser collapses, even as %2E%2E) sent the signed-in user's token
 * to other endpoints: #/entity/../events opened an event stream from the start of history that never ended, holding
 * one of the user's stream slots. A route now names an entity kind and an id of the domain's form, or nothing.
 */
describe('console routes', () => {
  it('keep an entity kind and an id of the domain\'s form', () => {
    expect(parseRoute('#/entity/node/meter-1')).toEqual({ page: 'entity', kind: 'node', id: 'meter-1' });
    expect(parseRoute('#/verify/credential/meter-1.svc:2~a')).toEqual({ page: 'verify', kind: 'credential', id: 'meter-1.svc:2~a' });
    expect(parseRoute('#/entity/node')).toEqual({ page: 'entity', kind: 'node' });
  });

  it.each([
    ['#/entity/../replay', { page: 'entity' }],
    ['#/entity/node/..', { page: 'entity', kind: 'node' }],
    ['#/verify/node/%2E%2E', { page: 'verify', kind: 'node' }],
    ['#/entity/node/a%2F..%2F..%2Freplay', { page: 'entity', kind: 'node' }],
    ['#/entity/node/../events', { page: 'entity', kind: 'node' }],
    ['#/verify/nodes/meter-1', { page: 'verify' }],
    ['#/entity/node/%3Cimg%3E', { page: 'entity', kind: 'node' }],
  ])('drop what is not an entity kind or id: %s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
  });
});

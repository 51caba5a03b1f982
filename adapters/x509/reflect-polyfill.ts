/**
 * @peculiar/x509 registers its parsers through tsyringe, which refuses to load unless a Reflect metadata
 * polyfill is present (the library's README asks for `reflect-metadata` or an equivalent). No such package is
 * installed, so this module installs the three functions tsyringe calls (defineMetadata, getOwnMetadata,
 * getMetadata), with the reflect-metadata semantics: per-target, per-property maps, and getMetadata walking the
 * prototype chain. It installs nothing when a real polyfill is already loaded. Import it before @peculiar/x509.
 */

type Key = string | symbol | undefined;
type MetadataMap = Map<unknown, unknown>;

interface ReflectMetadataApi {
  defineMetadata(metadataKey: unknown, value: unknown, target: object, propertyKey?: Key): void;
  getOwnMetadata(metadataKey: unknown, target: object, propertyKey?: Key): unknown;
  getMetadata(metadataKey: unknown, target: object, propertyKey?: Key): unknown;
}

const reflect = Reflect as typeof Reflect & Partial<ReflectMetadataApi>;

if (typeof reflect.getMetadata !== 'function') {
  const store = new WeakMap<object, Map<Key, MetadataMap>>();
  const mapFor = (target: object, propertyKey: Key, create: boolean): MetadataMap | undefined => {
    let byProperty = store.get(target);
    if (!byProperty) {
      if (!create) return undefined;
      byProperty = new Map();
      store.set(target, byProperty);
    }
    let map = byProperty.get(propertyKey);
    if (!map && create) {
      map = new Map();
      byProperty.set(propertyKey, map);
    }
    return map;
  };
  const getOwnMetadata = (metadataKey: unknown, target: object, propertyKey?: Key): unknown =>
    mapFor(target, propertyKey, false)?.get(metadataKey);
  Object.assign(reflect, {
    defineMetadata(metadataKey: unknown, value: unknown, target: object, propertyKey?: Key): void {
      mapFor(target, propertyKey, true)?.set(metadataKey, value);
    },
    getOwnMetadata,
    getMetadata(metadataKey: unknown, target: object, propertyKey?: Key): unknown {
      for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t) as object | null) {
        const map = mapFor(t, propertyKey, false);
        if (map?.has(metadataKey)) return map.get(metadataKey);
      }
      return undefined;
    },
  } satisfies ReflectMetadataApi);
}

export {};

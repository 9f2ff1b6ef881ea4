/**
 * Where an SDK line keeps the installation of each server: on the server itself (a property
 * under a symbol of that line), since a `WeakMap` keyed by servers built per request (the
 * stateless HTTP pattern) costs microseconds per entry and slows every young-generation GC; a
 * server that cannot take a property (frozen, sealed) is kept in a `WeakMap`. SDK-neutral.
 */
export const make = <S extends object, I>(name: string) => {
  const key = Symbol(name)
  const elsewhere = new WeakMap<S, I>()
  return {
    get: (server: S): I | undefined => (server as any)[key] ?? elsewhere.get(server),
    keep: (server: S, installation: I): void => {
      if (Object.isExtensible(server)) Object.defineProperty(server, key, { value: installation, configurable: true })
      else elsewhere.set(server, installation)
    }
  }
}

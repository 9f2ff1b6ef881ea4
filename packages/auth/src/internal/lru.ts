/**
 * A bounded map with per-entry expiry and least-recently-used eviction. Not thread-safe beyond
 * what JavaScript's single thread gives; callers pass the time in.
 */
export interface Lru<V> {
  readonly get: (key: string, nowMillis: number) => V | undefined
  readonly set: (key: string, value: V, expiresAtMillis: number) => void
  readonly delete: (key: string) => void
  readonly size: () => number
}

export const make = <V>(capacity: number): Lru<V> => {
  const map = new Map<string, { readonly value: V; readonly expiresAt: number }>()
  return {
    get: (key, now) => {
      const entry = map.get(key)
      if (entry === undefined) return undefined
      map.delete(key)
      if (now >= entry.expiresAt) return undefined
      map.set(key, entry) // most recently used goes last
      return entry.value
    },
    set: (key, value, expiresAt) => {
      if (capacity <= 0) return
      map.delete(key)
      map.set(key, { value, expiresAt })
      while (map.size > capacity) {
        const oldest = map.keys().next()
        if (oldest.done === true) break
        map.delete(oldest.value)
      }
    },
    delete: (key) => {
      map.delete(key)
    },
    size: () => map.size
  }
}

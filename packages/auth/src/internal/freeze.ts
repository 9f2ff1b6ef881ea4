/**
 * Claims shared between requests (a cached `AccessToken`, a static token's configured claims) are
 * frozen all the way down: a tool that changes `claims.roles` of its token must not change what
 * later requests with the same token see.
 */

import * as Hash from "effect/Hash"

/** Freezes `value` and every plain object and array inside it, in place; returns it. */
export const deepFreeze = <A>(value: A): A => {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value
  const proto = Object.getPrototypeOf(value)
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value // not plain data
  Object.freeze(value)
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return value
}

/** A deep copy of plain data (plain objects and arrays; other values as they are), frozen. */
export const frozenCopy = <A>(value: A): A => {
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy)) as A
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) out[key] = frozenCopy((value as Record<string, unknown>)[key])
  return Object.freeze(out) as A
}

/**
 * Makes a shared value (a cached `AccessToken`) unchangeable: its own fields read-only, its plain
 * data deep-frozen, no field added (an absent `subject`). Its hash is computed first: Effect
 * caches it on the object, which then cannot take the property.
 */
export const lockFields = <A extends object>(value: A): A => {
  for (const key of Object.keys(value)) {
    deepFreeze((value as Record<string, unknown>)[key])
    Object.defineProperty(value, key, { writable: false, configurable: false })
  }
  Hash.hash(value)
  Object.preventExtensions(value)
  return value
}

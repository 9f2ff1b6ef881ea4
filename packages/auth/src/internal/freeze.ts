/**
 * Claims shared between requests (a cached `AccessToken`, a static token's configured claims) are
 * frozen all the way down: a tool that changes `claims.roles` of its token must not change what
 * later requests with the same token see.
 */

import * as DateTime from "effect/DateTime"
import * as Hash from "effect/Hash"
import * as Redacted from "effect/Redacted"

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
 * Freezes an Effect `DateTime` in place (an expiry every hit of a cached token shares), returns it.
 * The `DateTime` functions fill caches on the object on first use (its hash, its parts, for a
 * zoned one its adjusted time): they are filled first, so that every function keeps working on
 * the frozen value. The parts are frozen too; a zoned value's time zone is left as it is.
 */
export const freezeDateTime = <A extends DateTime.DateTime>(value: A): A => {
  if (Object.isFrozen(value)) return value
  Hash.hash(value)
  deepFreeze(DateTime.toPartsUtc(value))
  if (DateTime.isZoned(value)) {
    deepFreeze(DateTime.toParts(value))
    DateTime.toDate(value)
  }
  return Object.freeze(value)
}

/**
 * Makes a shared value (a cached `AccessToken`) unchangeable: its own fields read-only, its plain
 * data deep-frozen, its `DateTime` (the expiry) and `Redacted` (the token) frozen, no field added
 * (an absent `subject`). Its hash is computed first: Effect caches it on the object (and on the
 * `DateTime` and `Redacted` in it), which then cannot take the property.
 */
export const lockFields = <A extends object>(value: A): A => {
  Hash.hash(value)
  for (const key of Object.keys(value)) {
    const field = (value as Record<string, unknown>)[key]
    if (DateTime.isDateTime(field)) freezeDateTime(field)
    else if (Redacted.isRedacted(field)) {
      Hash.hash(field) // cached on it, as on a DateTime (its value lives outside the object)
      Object.freeze(field)
    } else deepFreeze(field)
    Object.defineProperty(value, key, { writable: false, configurable: false })
  }
  Object.preventExtensions(value)
  return value
}

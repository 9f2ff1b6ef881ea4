/**
 * Times to live as the stores write them: whole milliseconds (Redis' `PX` and Postgres' `bigint`
 * take integers; a computed `Duration.millis(1000.5)` was refused there only), at least 1.
 */
import * as Duration from "effect/Duration"

/** `ttl` in whole milliseconds (rounded up, at least 1); `undefined` for an infinite one. */
export const ttlMillis = (ttl: Duration.DurationInput): number | undefined => {
  const ms = Duration.toMillis(Duration.decode(ttl))
  return Number.isFinite(ms) ? Math.max(1, Math.ceil(ms)) : undefined
}

/** The longest life of an entry that must end (a pending elicitation, a result): a year. */
const maxEntryMillis = 365 * 24 * 3600 * 1000

/** `ttl` for an entry that must end: an infinite or longer one is a year. */
export const entryTtlMillis = (ttl: Duration.DurationInput): number => Math.min(ttlMillis(ttl) ?? maxEntryMillis, maxEntryMillis)

/** The expiry of a credential written at `now` with `ttl`: `null` for none (no TTL, or an infinite one). */
export const ttlToExpiry = (now: number, ttl: Duration.DurationInput | undefined): number | null => {
  if (ttl === undefined) return null
  const ms = ttlMillis(ttl)
  return ms === undefined ? null : now + ms
}

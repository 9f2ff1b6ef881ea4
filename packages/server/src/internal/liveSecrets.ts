/**
 * The scrubbers of the tool calls in flight in this process, and of the calls that ended lately.
 *
 * A call's own scrubber knows only its secrets. Plain tools read their credential from Node's
 * async context, and a callback one call registers that another call's code fires (a shared
 * `EventEmitter`, a pool's or a queue's callback) runs in the firing call's context: what it reads
 * there is the other call's credential. So what a call sends is also scrubbed of the secrets of
 * every other call in flight, and what the server sends that no call can be found for (a
 * notification a tool's timer sends after its call returned) of those of the calls that ended in
 * the last minutes too. These scrubbers hold nothing `Scrubber.make` does not already keep (it
 * remembers the last 256 sets of secrets).
 */
import type * as Scrubber from "../Scrubber.js"

/** Calls in flight per scrubber (calls with the same secrets share one scrubber). */
const live = new Map<Scrubber.Scrubber, number>()
/** Scrubbers of calls that ended, oldest first, with the time they were last used. */
const recent = new Map<Scrubber.Scrubber, number>()
const recentMax = 64
const recentMillis = 10 * 60_000

/** Marks a call with `scrubber` as in flight until the returned function is called. */
export const enter = (scrubber: Scrubber.Scrubber): () => void => {
  if (scrubber.isEmpty) return noop
  live.set(scrubber, (live.get(scrubber) ?? 0) + 1)
  return () => {
    const n = live.get(scrubber) ?? 0
    if (n <= 1) live.delete(scrubber)
    else live.set(scrubber, n - 1)
    recent.delete(scrubber)
    recent.set(scrubber, Date.now())
    if (recent.size > recentMax) recent.delete(recent.keys().next().value!)
  }
}

const noop = () => {}

/** Whether another call than the ones with `own` scrubbers is in flight (the common case: none). */
const othersInFlight = (own: ReadonlyArray<Scrubber.Scrubber | undefined>): boolean => {
  if (live.size === 0) return false
  let mine = 0
  for (const s of own) if (s !== undefined && live.has(s)) mine++
  return live.size > mine
}

/**
 * `value` scrubbed of the secrets of every call in flight but the ones with `own` scrubbers (which
 * the caller applied already), and how many occurrences were replaced.
 */
export const scrubOthers = <A>(
  value: A,
  ...own: ReadonlyArray<Scrubber.Scrubber | undefined>
): { readonly value: A; readonly count: number } => {
  if (!othersInFlight(own)) return { value, count: 0 }
  let out = value
  let count = 0
  for (const s of live.keys()) {
    if (own.includes(s)) continue
    const r = s.scrub(out)
    out = r.value
    count += r.count
  }
  return { value: out, count }
}

/**
 * `value` scrubbed of the secrets of every call in flight and of the calls that ended in the last
 * ten minutes (at most 64 sets): for what the server sends that no call can be found for.
 */
export const scrubAnyKnown = <A>(value: A): { readonly value: A; readonly count: number } => {
  let out = value
  let count = 0
  for (const s of live.keys()) {
    const r = s.scrub(out)
    out = r.value
    count += r.count
  }
  if (recent.size > 0) {
    const oldest = Date.now() - recentMillis
    for (const [s, at] of recent) {
      if (at < oldest) {
        recent.delete(s)
        continue
      }
      if (live.has(s)) continue
      const r = s.scrub(out)
      out = r.value
      count += r.count
    }
  }
  return { value: out, count }
}

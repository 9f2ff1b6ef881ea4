/**
 * One-time entries for in-flight elicitations. An entry is created with a TTL, read by the form,
 * taken exactly once when the form is submitted, and its waiter is woken by `complete`. Entries
 * and results expire on every backend.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import { awaitResult, randomId } from "./internal/records.js"
import { entryTtlMillis } from "./internal/ttl.js"
import type { VaultError } from "./VaultError.js"

/**
 * An in-flight elicitation. `id` is the one-time capability (random, 256 bits, unless given);
 * `data` is JSON metadata that must not hold a secret.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingEntry {
  readonly id: string
  readonly provider: string
  readonly subject: string
  readonly data: Readonly<Record<string, unknown>>
  readonly createdAt: DateTime.Utc
  readonly expiresAt: DateTime.Utc
}

/**
 * What `create` takes. Without `id`, a random one is generated.
 *
 * @since 0.1.0
 * @category models
 */
export interface PendingInput {
  readonly id?: string | undefined
  readonly provider: string
  readonly subject: string
  readonly data?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The completion signal handed to the waiter (JSON, no secret: the credential itself goes to the
 * `CredentialStore`).
 *
 * @since 0.1.0
 * @category models
 */
export type PendingResult = Readonly<Record<string, unknown>>

/**
 * The default lifetime of a result that nobody awaits.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultResultTtl: Duration.Duration = Duration.seconds(120)

/**
 * The pending store. `take` is atomic: of concurrent takes of one entry, exactly one gets it.
 * `await` consumes the result; it gives `None` on timeout. `complete` works whether or not the
 * entry was taken, and wakes waiters on other replicas on the Redis and Postgres backends.
 *
 * @since 0.1.0
 * @category tags
 */
export class PendingStore extends Context.Tag("@mcp-credentials/vault/PendingStore")<
  PendingStore,
  {
    readonly create: (input: PendingInput, ttl: Duration.DurationInput) => Effect.Effect<PendingEntry, VaultError>
    readonly get: (id: string) => Effect.Effect<Option.Option<PendingEntry>, VaultError>
    readonly take: (id: string) => Effect.Effect<Option.Option<PendingEntry>, VaultError>
    readonly complete: (
      id: string,
      result: PendingResult,
      options?: { readonly ttl?: Duration.DurationInput | undefined }
    ) => Effect.Effect<void, VaultError>
    readonly await: (
      id: string,
      timeout: Duration.DurationInput
    ) => Effect.Effect<Option.Option<PendingResult>, VaultError>
  }
>() {}

/**
 * An in-process pending store, not encrypted. Expiry follows the `Clock`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<PendingStore["Type"]> = Effect.suspend(() => Effect.map(makeMemoryWithSize, ({ store }) => store))

/**
 * `makeMemory`, with how many entries and results it holds (diagnostics, tests).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemoryWithSize: Effect.Effect<{
  readonly store: PendingStore["Type"]
  readonly size: () => { readonly entries: number; readonly results: number }
}> = Effect.gen(function*() {
  const entries = new Map<string, PendingEntry>()
  const results = new Map<string, { readonly result: PendingResult; readonly expiresAt: number }>()
  const wakeups = yield* PubSub.unbounded<string>()
  // expired entries and unread results are dropped by a sweep on writes, at most once a second
  // (otherwise only a read of the same id would drop them, and abandoned ones would stay forever)
  let nextSweep = 0
  const sweep = (now: number) => {
    if (now < nextSweep) return
    nextSweep = now + 1000
    for (const [id, e] of entries) if (e.expiresAt.epochMillis <= now) entries.delete(id)
    for (const [id, r] of results) if (r.expiresAt <= now) results.delete(id)
  }
  const liveEntry = (id: string, now: number, remove: boolean) => {
    const e = entries.get(id)
    if (e === undefined) return Option.none<PendingEntry>()
    if (remove || e.expiresAt.epochMillis <= now) entries.delete(id)
    return e.expiresAt.epochMillis > now ? Option.some(e) : Option.none()
  }
  const takeResult = (id: string) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const r = results.get(id)
      if (r === undefined) return Option.none<PendingResult>()
      results.delete(id)
      return r.expiresAt > now ? Option.some(r.result) : Option.none()
    })
  const store = PendingStore.of({
    create: (input, ttl) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        sweep(now)
        const entry = makeEntry(input, now, ttl)
        entries.set(entry.id, entry)
        return entry
      }),
    get: (id) => Effect.map(Clock.currentTimeMillis, (now) => liveEntry(id, now, false)),
    take: (id) => Effect.map(Clock.currentTimeMillis, (now) => liveEntry(id, now, true)),
    complete: (id, result, options) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        sweep(now)
        results.set(id, { result, expiresAt: now + entryTtlMillis(options?.ttl ?? defaultResultTtl) })
        return PubSub.publish(wakeups, id)
      }),
    await: (id, timeout) =>
      awaitResult({ id, wakeups, take: takeResult(id), timeout, pollInterval: Duration.seconds(1) })
  })
  return { store, size: () => ({ entries: entries.size, results: results.size }) }
})

/**
 * The memory pending store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<PendingStore> = Layer.effect(PendingStore, makeMemory)

/**
 * Builds an entry from its input at `now` (epoch millis), for backends.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeEntry = (input: PendingInput, now: number, ttl: Duration.DurationInput): PendingEntry => ({
  id: input.id ?? randomId(),
  provider: input.provider,
  subject: input.subject,
  data: input.data ?? {},
  createdAt: DateTime.unsafeMake(now),
  expiresAt: DateTime.unsafeMake(now + entryTtlMillis(ttl))
})

/**
 * Per-user credentials: one `ResolvedCredential` per (provider, subject), with an optional TTL.
 * Backends: `layerMemory` here; `FileStore`, `RedisStore` and `PgStore` (encrypted at rest) in
 * their own modules, so a driver is loaded only by the backend that needs it.
 *
 * @since 0.1.0
 */
import type { ResolvedCredential } from "@mcp-credentials/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { credentialId, makeStored } from "./internal/records.js"
import { ttlToExpiry } from "./internal/ttl.js"
import type { VaultError } from "./VaultError.js"

/**
 * Where a credential lives: the downstream provider (`"github"`, `"jira"`) and the user's
 * subject (the OIDC `sub`). Both must be non-empty: an empty subject would make users collide.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoreKey {
  readonly provider: string
  readonly subject: string
}

/**
 * A stored credential and its metadata. `generation` starts at 1 and grows by one on every
 * overwrite of the same key (a later compare-and-swap builds on it); `createdAt` is the time of the
 * last write.
 *
 * @since 0.1.0
 * @category models
 */
export interface StoredCredential extends StoreKey {
  readonly credential: ResolvedCredential.ResolvedCredential
  readonly createdAt: DateTime.Utc
  readonly expiresAt: Option.Option<DateTime.Utc>
  readonly generation: number
}

/**
 * Options of `set`. Without `ttl` the credential never expires.
 *
 * @since 0.1.0
 * @category models
 */
export interface SetOptions {
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * The cache of opened records of the encrypted backends (file, Redis, Postgres). Every `get` still
 * reads the backend; when the sealed bytes it reads are exactly those of a record this instance
 * opened within `ttl` for the same key, the decrypted credential is reused instead of decrypting
 * and checking the record again. A changed, deleted or tampered record is never served from it
 * (its bytes differ); it only holds plaintext that this process already decrypted, for at most
 * `ttl` (default 60 s), and at most `maxEntries` records (default 10,000, oldest dropped first).
 * `false` turns it off.
 *
 * @since 0.1.0
 * @category models
 */
export interface OpenCacheOptions {
  readonly maxEntries?: number | undefined
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * The credential store. `get` never returns an expired credential; a record that fails to
 * decrypt is a `DecryptionError`, never a silent miss.
 *
 * @since 0.1.0
 * @category tags
 */
export class CredentialStore extends Context.Tag("@mcp-credentials/vault/CredentialStore")<
  CredentialStore,
  {
    readonly get: (key: StoreKey) => Effect.Effect<Option.Option<StoredCredential>, VaultError>
    readonly set: (
      key: StoreKey,
      credential: ResolvedCredential.ResolvedCredential,
      options?: SetOptions
    ) => Effect.Effect<StoredCredential, VaultError>
    /**
     * Compare-and-set: writes `credential` only if the live record of `key` still has the
     * `expected` generation (`Option.none()`: only if there is no live record), atomically on every
     * backend. Returns the new record when this write won, `None` when another writer got there
     * first (re-read with `get`). Of concurrent calls with the same expectation, exactly one wins.
     */
    readonly compareAndSet: (
      key: StoreKey,
      expected: Option.Option<number>,
      credential: ResolvedCredential.ResolvedCredential,
      options?: SetOptions
    ) => Effect.Effect<Option.Option<StoredCredential>, VaultError>
    /** Returns whether a live credential was removed. */
    readonly delete: (key: StoreKey) => Effect.Effect<boolean, VaultError>
    /**
     * Compare-and-delete: removes the live record of `key` only if it still has the `expected`
     * generation, so a writer never deletes a newer record written by someone else. Returns
     * whether it removed the record.
     */
    readonly compareAndDelete: (key: StoreKey, expected: number) => Effect.Effect<boolean, VaultError>
    /** The live credentials of one subject, or of every subject when `subject` is omitted. */
    readonly list: (subject?: string) => Effect.Effect<ReadonlyArray<StoredCredential>, VaultError>
    /**
     * Deletes every record of `subject`, without opening them: also records sealed with a key
     * the keyring no longer holds, which `list` cannot open. Returns how many were removed.
     * Optional for stores written elsewhere: `deleteAllOf` then lists and deletes.
     */
    readonly deleteSubject?: ((subject: string) => Effect.Effect<number, VaultError>) | undefined
  }
>() {}

/**
 * An in-process store, not encrypted, lost on restart. Expiry follows the `Clock`, so
 * `TestClock` drives it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<CredentialStore["Type"]> = Effect.sync(() => {
  const entries = new Map<string, StoredCredential>()
  const generations = new Map<string, number>()
  const live = (now: number) => (s: StoredCredential) =>
    Option.match(s.expiresAt, { onNone: () => true, onSome: (e) => e.epochMillis > now })
  const lookup = (key: StoreKey, now: number) => {
    const id = credentialId(key)
    const found = entries.get(id)
    if (found === undefined) return Option.none()
    if (!live(now)(found)) {
      entries.delete(id)
      return Option.none()
    }
    return Option.some(found)
  }
  return CredentialStore.of({
    get: (key) => Effect.map(Clock.currentTimeMillis, (now) => lookup(key, now)),
    set: (key, credential, options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const id = credentialId(key)
        const generation = (generations.get(id) ?? 0) + 1
        const stored = makeStored(key, credential, now, ttlToExpiry(now, options?.ttl), generation)
        generations.set(id, generation)
        entries.set(id, stored)
        return stored
      }),
    compareAndSet: (key, expected, credential, options) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = lookup(key, now)
        const matches = Option.isNone(expected)
          ? Option.isNone(current)
          : Option.isSome(current) && current.value.generation === expected.value
        if (!matches) return Option.none()
        const id = credentialId(key)
        const generation = (generations.get(id) ?? 0) + 1
        const stored = makeStored(key, credential, now, ttlToExpiry(now, options?.ttl), generation)
        generations.set(id, generation)
        entries.set(id, stored)
        return Option.some(stored)
      }),
    compareAndDelete: (key, expected) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const current = lookup(key, now)
        if (Option.isNone(current) || current.value.generation !== expected) return false
        entries.delete(credentialId(key))
        return true
      }),
    delete: (key) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const found = lookup(key, now)
        const id = credentialId(key)
        entries.delete(id)
        // the generation counter stays: a later record never reuses a generation
        return Option.isSome(found)
      }),
    list: (subject) =>
      Effect.map(Clock.currentTimeMillis, (now) =>
        [...entries.values()].filter((s) => live(now)(s) && (subject === undefined || s.subject === subject))),
    deleteSubject: (subject) =>
      Effect.sync(() => {
        let removed = 0
        for (const [id, s] of entries) {
          if (s.subject === subject) {
            entries.delete(id)
            removed++
          }
        }
        return removed
      })
  })
})

/**
 * The memory store as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<CredentialStore> = Layer.effect(CredentialStore, makeMemory)

/**
 * Deletes every record of `subject` (all providers) from `store`: with its `deleteSubject` when it
 * has one (nothing opened: also records sealed with a retired key), otherwise by listing and
 * deleting them one by one. Returns how many were removed.
 *
 * @since 0.1.0
 * @category operators
 */
export const deleteAllOf = (store: CredentialStore["Type"], subject: string): Effect.Effect<number, VaultError> =>
  store.deleteSubject !== undefined
    ? store.deleteSubject(subject)
    : Effect.flatMap(store.list(subject), (all) =>
      Effect.reduce(all, 0, (removed, s) =>
        Effect.map(store.delete({ provider: s.provider, subject }), (deleted) => (deleted ? removed + 1 : removed))))

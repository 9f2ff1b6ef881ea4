import { ResolvedCredential } from "@mcp-credentials/core"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as crypto from "node:crypto"
import { CredentialStore, type OpenCacheOptions, type StoredCredential, type StoreKey } from "../CredentialStore.js"
import type * as Keyring from "../Keyring.js"
import { type PendingEntry, type PendingResult, PendingStore } from "../PendingStore.js"
import { DecryptionError } from "../VaultError.js"

/** @internal */
export const sha256 = (s: string): string => crypto.createHash("sha256").update(s, "utf8").digest("hex")

/**
 * `sha256` for the names a store derives from subjects and providers on every call, remembered
 * for the last 10,000 inputs (they are not secrets: key names hold these digests anyway).
 *
 * @internal
 */
export const makeNameDigest = (max = 10_000): (s: string) => string => {
  const memo = new Map<string, string>()
  return (s) => {
    let d = memo.get(s)
    if (d === undefined) {
      d = sha256(s)
      memo.set(s, d)
      if (memo.size > max) memo.delete(memo.keys().next().value!)
    }
    return d
  }
}

/** @internal */
export const credentialAad = (key: StoreKey): string => `${key.provider}\0${key.subject}`
/** @internal */
export const pendingAad = (id: string): string => `pending\0${id}`
/** @internal */
export const resultAad = (id: string): string => `result\0${id}`

const credentialIds = makeNameDigest()

/**
 * The owner a record is opened as (its AES-GCM additional data): the key the caller asked for, or,
 * for a listing, the subject it listed with the provider the record names; only what the caller
 * did not name comes from the record (and is then authenticated by the decryption). So a record
 * copied verbatim into another user's slot never opens there.
 *
 * @internal
 */
export const ownerFor = (asked: StoreKey | string | undefined, record: StoreKey): StoreKey =>
  typeof asked === "object" ? asked : { provider: record.provider, subject: asked ?? record.subject }

/** @internal */
export const credentialId = (key: StoreKey): string => credentialIds(credentialAad(key))


const encodeCredential = Schema.encodeSync(ResolvedCredential.ResolvedCredential)

/**
 * The decrypted credential record, decoded in one Schema pass. The decoder is compiled once; it is
 * the reference for what a valid record is, and the fallback of `fastCredentialPayload`.
 */
const CredentialRecord = Schema.Struct({
  credential: ResolvedCredential.ResolvedCredential,
  createdAt: Schema.Number,
  expiresAt: Schema.NullOr(Schema.Number)
})
const decodeCredentialRecord = Schema.decodeUnknownEither(CredentialRecord)

const PendingPayload = Schema.Struct({
  id: Schema.String,
  provider: Schema.String,
  subject: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  createdAt: Schema.Number,
  expiresAt: Schema.Number
})
const decodePendingPayload = Schema.decodeUnknownEither(PendingPayload)
const ResultPayload = Schema.Struct({
  result: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  expiresAt: Schema.Number
})
const decodeResultPayload = Schema.decodeUnknownEither(ResultPayload)

const invalid = (keyId: string) => () => new DecryptionError({ keyId, reason: "the decrypted record is not valid" })

const keyIdOf = (sealed: string): string => {
  const a = sealed.indexOf(".")
  if (a < 0) return ""
  const b = sealed.indexOf(".", a + 1)
  return b < 0 ? sealed.slice(a + 1) : sealed.slice(a + 1, b)
}

/** JSON-parses and decodes a decrypted record; `undefined` when it is not valid. */
const decodeJson = <A>(json: string, decode: (u: unknown) => Either.Either<A, unknown>): A | undefined => {
  let u: unknown
  try {
    u = JSON.parse(json)
  } catch {
    return undefined
  }
  const r = decode(u)
  return Either.isRight(r) ? r.right : undefined
}

const decodeOrFail = <A>(
  json: string,
  sealed: string,
  decode: (u: unknown) => Either.Either<A, unknown>
): Effect.Effect<A, DecryptionError> => {
  const a = decodeJson(json, decode)
  return a === undefined ? Effect.fail(invalid(keyIdOf(sealed))()) : Effect.succeed(a)
}

// -- hot path: a hand-written check of the two credential shapes the Schema accepts -------------
// Returns `undefined` for anything it is not sure about; the Schema then decides (and reports).

type Plain = Record<string, unknown>

const isPlain = (u: unknown): u is Plain => typeof u === "object" && u !== null && !Array.isArray(u)

const redactedFields = (u: unknown): Record<string, Redacted.Redacted<string>> | undefined => {
  if (!isPlain(u)) return undefined
  const out: Record<string, Redacted.Redacted<string>> = {}
  for (const k in u) {
    if (!Object.hasOwn(u, k)) continue
    const v = u[k]
    if (typeof v !== "string" || k === "__proto__") return undefined
    out[k] = Redacted.make(v)
  }
  return out
}

const fastOAuth = (c: Plain): ResolvedCredential.OAuthCredential | undefined => {
  const { accessToken, clientId, clientSecret, expiresAt, extra, refreshToken, scopes, tokenUri } = c
  if (typeof accessToken !== "string") return undefined
  const props: {
    -readonly [K in keyof ResolvedCredential.OAuthCredential]?: ResolvedCredential.OAuthCredential[K]
  } = { type: "oauth", accessToken: Redacted.make(accessToken) }
  if (refreshToken !== undefined) {
    if (typeof refreshToken !== "string") return undefined
    props.refreshToken = Redacted.make(refreshToken)
  }
  if (clientId !== undefined) {
    if (typeof clientId !== "string") return undefined
    props.clientId = clientId
  }
  if (clientSecret !== undefined) {
    if (typeof clientSecret !== "string") return undefined
    props.clientSecret = Redacted.make(clientSecret)
  }
  if (tokenUri !== undefined) {
    if (typeof tokenUri !== "string") return undefined
    props.tokenUri = tokenUri
  }
  if (scopes !== undefined) {
    if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === "string")) return undefined
    props.scopes = [...scopes]
  }
  if (expiresAt !== undefined) {
    if (typeof expiresAt !== "string") return undefined
    const dt = DateTime.make(expiresAt)
    if (Option.isNone(dt)) return undefined
    props.expiresAt = DateTime.toUtc(dt.value)
  }
  if (extra === undefined) props.extra = {}
  else if (isPlain(extra) && !Object.hasOwn(extra, "__proto__")) props.extra = { ...extra }
  else return undefined
  return new ResolvedCredential.OAuthCredential(props as ResolvedCredential.OAuthCredential, {
    disableValidation: true
  })
}

const fastCredentialRecord = (u: unknown): typeof CredentialRecord.Type | undefined => {
  if (!isPlain(u)) return undefined
  const { createdAt, credential: c, expiresAt } = u
  if (typeof createdAt !== "number" || (expiresAt !== null && typeof expiresAt !== "number")) return undefined
  if (!isPlain(c)) return undefined
  let credential: ResolvedCredential.ResolvedCredential | undefined
  if (c.type === "static") {
    const fields = redactedFields(c.fields)
    if (fields === undefined) return undefined
    credential = new ResolvedCredential.StaticCredential({ type: "static", fields }, { disableValidation: true })
  } else if (c.type === "oauth") {
    credential = fastOAuth(c)
  }
  return credential === undefined ? undefined : { credential, createdAt, expiresAt }
}

/** @internal exported for the equivalence test of the hot path against the Schema */
export const decodeCredentialRecordFast = (u: unknown): Either.Either<typeof CredentialRecord.Type, unknown> => {
  const fast = fastCredentialRecord(u)
  return fast !== undefined ? Either.right(fast) : decodeCredentialRecord(u)
}

/** @internal the Schema alone, for the equivalence test */
export const decodeCredentialRecordSchema = decodeCredentialRecord

/** @internal */
export const makeStored = (
  key: StoreKey,
  credential: ResolvedCredential.ResolvedCredential,
  createdAt: number,
  expiresAt: number | null,
  generation: number
): StoredCredential => ({
  provider: key.provider,
  subject: key.subject,
  credential,
  createdAt: DateTime.unsafeMake(createdAt),
  expiresAt: expiresAt === null ? Option.none() : Option.some(DateTime.unsafeMake(expiresAt)),
  generation
})

/**
 * Whether a stored credential is live at `now` by the expiry sealed inside it (authenticated),
 * whatever the backend's own expiry metadata says: a record whose outer TTL was stripped (Redis
 * `PERSIST`, a Postgres `expires_at` set to NULL) is not served after its sealed expiry.
 *
 * @internal
 */
export const isLiveAt = (stored: StoredCredential, now: number): boolean =>
  Option.isNone(stored.expiresAt) || stored.expiresAt.value.epochMillis > now

/** @internal */
export const sealCredential = (
  keyring: Keyring.Keyring["Type"],
  key: StoreKey,
  credential: ResolvedCredential.ResolvedCredential,
  createdAt: number,
  expiresAt: number | null
): string =>
  keyring.seal(JSON.stringify({ credential: encodeCredential(credential), createdAt, expiresAt }), credentialAad(key))

/** @internal */
export const openCredential = (
  keyring: Keyring.Keyring["Type"],
  key: StoreKey,
  sealed: string,
  generation: number
): Effect.Effect<StoredCredential, DecryptionError> =>
  Effect.flatMap(keyring.open(sealed, credentialAad(key)), (json) => {
    const p = decodeJson(json, decodeCredentialRecordFast)
    return p === undefined
      ? Effect.fail(invalid(keyIdOf(sealed))())
      : Effect.succeed(makeStored(key, p.credential, p.createdAt, p.expiresAt, generation))
  })

/**
 * `Effect.map` over an opened record, done at once when the record is already an `Exit` (a hit
 * in the cache of opened records): the caller gets an `Exit` it can resume with directly.
 *
 * @internal
 */
export const mapOpened = <A, E, B>(opened: Effect.Effect<A, E>, f: (a: A) => B): Effect.Effect<B, E> =>
  Exit.isExit(opened) ? Exit.map(opened as Exit.Exit<A, E>, f) : Effect.map(opened, f)

/**
 * `openCredential` behind the cache of opened records (see `OpenCacheOptions`): one entry per
 * owner (provider + subject), the record last opened for it; it is served only when the record
 * read now has the same generation and byte-identical sealed value.
 *
 * @internal
 */
export const makeCredentialOpener = (
  keyring: Keyring.Keyring["Type"],
  options: OpenCacheOptions | false | undefined
): Effect.Effect<
  (key: StoreKey, sealed: string, generation: number) => Effect.Effect<StoredCredential, DecryptionError>,
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    if (options === false) {
      return (key: StoreKey, sealed: string, generation: number) => openCredential(keyring, key, sealed, generation)
    }
    const maxEntries = Math.max(1, options?.maxEntries ?? 10_000)
    const ttlMs = Duration.toMillis(Duration.decode(options?.ttl ?? "60 seconds"))
    // one entry per owner: the record last opened for it
    interface Entry {
      readonly generation: number
      readonly sealed: string
      readonly stored: StoredCredential
      readonly at: number
    }
    const entries = new Map<string, Entry>()
    // entries are in insertion order, which is time order: drop the expired ones from the front,
    // so no plaintext outlives `ttl` by more than one sweep interval, traffic or not
    const sweep = Effect.sync(() => {
      const now = performance.now()
      for (const [id, entry] of entries) {
        if (now - entry.at < ttlMs) break
        entries.delete(id)
      }
    })
    yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(Math.max(10, ttlMs / 4)))))
    yield* Effect.addFinalizer(() => Effect.sync(() => entries.clear()))
    // the lookup happens when the effect is built (every caller builds it at the time it opens),
    // so a hit is an `Exit` a caller can use without running it (see `Batcher.then`)
    return (key: StoreKey, sealed: string, generation: number) => {
      const owner = credentialAad(key)
      const now = performance.now()
      const hit = entries.get(owner)
      if (hit !== undefined && hit.generation === generation && hit.sealed === sealed && now - hit.at < ttlMs) {
        return Exit.succeed(hit.stored)
      }
      return Effect.map(openCredential(keyring, key, sealed, generation), (stored) => {
        entries.delete(owner)
        entries.set(owner, { generation, sealed, stored, at: now })
        if (entries.size > maxEntries) entries.delete(entries.keys().next().value!)
        return stored
      })
    }
  })

/** @internal */
export const sealPending = (keyring: Keyring.Keyring["Type"], entry: PendingEntry): string =>
  keyring.seal(
    JSON.stringify({
      id: entry.id,
      provider: entry.provider,
      subject: entry.subject,
      data: entry.data,
      createdAt: DateTime.toEpochMillis(entry.createdAt),
      expiresAt: DateTime.toEpochMillis(entry.expiresAt)
    }),
    pendingAad(entry.id)
  )

/** @internal */
export const openPending = (
  keyring: Keyring.Keyring["Type"],
  id: string,
  sealed: string
): Effect.Effect<PendingEntry, DecryptionError> =>
  Effect.gen(function*() {
    const keyId = keyIdOf(sealed)
    const json = yield* keyring.open(sealed, pendingAad(id))
    const p = yield* decodeOrFail(json, sealed, decodePendingPayload)
    if (p.id !== id) return yield* invalid(keyId)()
    return {
      id: p.id,
      provider: p.provider,
      subject: p.subject,
      data: p.data,
      createdAt: DateTime.unsafeMake(p.createdAt),
      expiresAt: DateTime.unsafeMake(p.expiresAt)
    }
  })

/** @internal */
export const sealResult = (
  keyring: Keyring.Keyring["Type"],
  id: string,
  result: PendingResult,
  expiresAt: number
): string => keyring.seal(JSON.stringify({ result, expiresAt }), resultAad(id))

/** @internal */
export const openResult = (
  keyring: Keyring.Keyring["Type"],
  id: string,
  sealed: string
): Effect.Effect<{ readonly result: PendingResult; readonly expiresAt: number }, DecryptionError> =>
  Effect.gen(function*() {
    const json = yield* keyring.open(sealed, resultAad(id))
    return yield* decodeOrFail(json, sealed, decodeResultPayload)
  })

/** @internal */
export const randomId = (): string => crypto.randomBytes(32).toString("base64url")

/**
 * Waits for a result: subscribes to wake-ups first (so a completion between the first check and
 * the wait is not missed), then alternates "try to take the result" and "wait for a wake-up or
 * the poll interval", until the timeout.
 *
 * @internal
 */
export const awaitResult = <E>(options: {
  readonly id: string
  readonly wakeups: PubSub.PubSub<string>
  readonly take: Effect.Effect<Option.Option<PendingResult>, E>
  readonly timeout: Duration.DurationInput
  readonly pollInterval: Duration.DurationInput
}): Effect.Effect<Option.Option<PendingResult>, E> =>
  Effect.scoped(
    Effect.gen(function*() {
      const sub = yield* PubSub.subscribe(options.wakeups)
      const next = Queue.take(sub).pipe(Effect.repeat({ until: (id) => id === options.id }))
      const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.decode(options.timeout))
      const poll = Duration.toMillis(Duration.decode(options.pollInterval))
      // the time limit applies to the waits between takes, never to a take: a result already
      // there is found however slow the read (a file store under load), and a take is never cut
      // off after it consumed the result (which would then be lost)
      const loop: Effect.Effect<Option.Option<PendingResult>, E> = Effect.flatMap(
        Effect.uninterruptible(options.take),
        (found) =>
          Option.isSome(found)
            ? Effect.succeed(found)
            : Effect.flatMap(Clock.currentTimeMillis, (now) =>
              now >= deadline
                ? Effect.succeedNone
                : Effect.zipRight(
                  Effect.raceFirst(Effect.asVoid(next), Effect.sleep(Duration.millis(Math.min(poll, deadline - now)))),
                  Effect.suspend(() => loop)
                ))
      )
      return yield* loop
    })
  )

/** @internal */
export const toContext = (stores: {
  readonly credentials: CredentialStore["Type"]
  readonly pending: PendingStore["Type"]
}): Context.Context<CredentialStore | PendingStore> =>
  Context.make(CredentialStore, stores.credentials).pipe(Context.add(PendingStore, stores.pending))

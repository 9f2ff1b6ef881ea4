import { ResolvedCredential } from "@mcp-credentials/core"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as crypto from "node:crypto"
import { CredentialStore, type StoredCredential, type StoreKey } from "../CredentialStore.js"
import type * as Keyring from "../Keyring.js"
import { type PendingEntry, type PendingResult, PendingStore } from "../PendingStore.js"
import { DecryptionError } from "../VaultError.js"

/** @internal */
export const sha256 = (s: string): string => crypto.createHash("sha256").update(s, "utf8").digest("hex")

/** @internal */
export const credentialAad = (key: StoreKey): string => `${key.provider}\0${key.subject}`
/** @internal */
export const pendingAad = (id: string): string => `pending\0${id}`
/** @internal */
export const resultAad = (id: string): string => `result\0${id}`

/** @internal */
export const credentialId = (key: StoreKey): string => sha256(credentialAad(key))

/** @internal */
export const ttlToExpiry = (now: number, ttl: Duration.DurationInput | undefined): number | null =>
  ttl === undefined ? null : now + Math.max(1, Duration.toMillis(Duration.decode(ttl)))

const encodeCredential = Schema.encodeSync(ResolvedCredential.ResolvedCredential)
const decodeCredential = Schema.decodeUnknown(ResolvedCredential.ResolvedCredential)

const CredentialPayload = Schema.Struct({
  credential: Schema.Unknown,
  createdAt: Schema.Number,
  expiresAt: Schema.NullOr(Schema.Number)
})
const PendingPayload = Schema.Struct({
  id: Schema.String,
  provider: Schema.String,
  subject: Schema.String,
  data: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  createdAt: Schema.Number,
  expiresAt: Schema.Number
})
const ResultPayload = Schema.Struct({
  result: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  expiresAt: Schema.Number
})

const invalid = (keyId: string) => () => new DecryptionError({ keyId, reason: "the decrypted record is not valid" })

const keyIdOf = (sealed: string): string => sealed.split(".")[1] ?? ""

const parseJson = (s: string, keyId: string) =>
  Effect.try({ try: () => JSON.parse(s) as unknown, catch: invalid(keyId) })

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
  Effect.gen(function*() {
    const keyId = keyIdOf(sealed)
    const json = yield* keyring.open(sealed, credentialAad(key))
    const payload = yield* Effect.flatMap(parseJson(json, keyId), Schema.decodeUnknown(CredentialPayload)).pipe(
      Effect.mapError(invalid(keyId))
    )
    const credential = yield* decodeCredential(payload.credential).pipe(Effect.mapError(invalid(keyId)))
    return makeStored(key, credential, payload.createdAt, payload.expiresAt, generation)
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
    const p = yield* Effect.flatMap(parseJson(json, keyId), Schema.decodeUnknown(PendingPayload)).pipe(
      Effect.mapError(invalid(keyId))
    )
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
    const keyId = keyIdOf(sealed)
    const json = yield* keyring.open(sealed, resultAad(id))
    return yield* Effect.flatMap(parseJson(json, keyId), Schema.decodeUnknown(ResultPayload)).pipe(
      Effect.mapError(invalid(keyId))
    )
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
      const loop: Effect.Effect<PendingResult, E> = Effect.flatMap(
        options.take,
        Option.match({
          onSome: Effect.succeed,
          onNone: () =>
            Effect.zipRight(
              Effect.raceFirst(Effect.asVoid(next), Effect.sleep(options.pollInterval)),
              Effect.suspend(() => loop)
            )
        })
      )
      return yield* Effect.timeoutOption(loop, options.timeout)
    })
  )

/** @internal */
export const toContext = (stores: {
  readonly credentials: CredentialStore["Type"]
  readonly pending: PendingStore["Type"]
}): Context.Context<CredentialStore | PendingStore> =>
  Context.make(CredentialStore, stores.credentials).pipe(Context.add(PendingStore, stores.pending))

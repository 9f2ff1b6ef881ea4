/**
 * Encryption at rest for the vault's stores: AES-256-GCM with a random 12-byte IV per record,
 * the record's owner (provider + "\0" + subject) as additional authenticated data, and the key id
 * written into each record. A keyring encrypts with its newest key and decrypts with any.
 *
 * Sealed format (one ASCII string): `v1.<keyId>.<iv base64url>.<ciphertext‖tag base64url>`.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { DecryptionError, EncryptionKeyError } from "./VaultError.js"

/**
 * One AES-256 key and its id.
 *
 * @since 0.1.0
 * @category models
 */
export interface Key {
  readonly id: string
  readonly key: Redacted.Redacted<Uint8Array>
}

/**
 * Seals and opens records. `seal` always uses the newest key; `open` picks the key named in the
 * record and fails with `DecryptionError` when it is unknown or the record does not authenticate.
 *
 * @since 0.1.0
 * @category tags
 */
export class Keyring extends Context.Tag("@mcp-credentials/vault/Keyring")<
  Keyring,
  {
    readonly currentKeyId: string
    readonly keyIds: ReadonlyArray<string>
    readonly seal: (plaintext: string, aad: string) => string
    readonly open: (sealed: string, aad: string) => Effect.Effect<string, DecryptionError>
  }
>() {}

/**
 * The environment variable read by `layerConfig` for the key or keyring.
 *
 * @since 0.1.0
 * @category constants
 */
export const keyVariable = "MCP_CREDENTIALS_ENCRYPTION_KEY"

/**
 * The environment variable read by `layerConfig` for a file holding the key or keyring.
 *
 * @since 0.1.0
 * @category constants
 */
export const keyFileVariable = "MCP_CREDENTIALS_ENCRYPTION_KEY_FILE"

/**
 * The seed's (mcpauthkit) variables, read by `layerConfig` when neither of ours is set: the key
 * (a Fernet key is the url-safe base64 of 32 bytes, which this keyring takes as its key) and a
 * file holding it.
 *
 * @since 0.1.0
 * @category constants
 */
export const seedVariables = { key: "STORAGE_ENCRYPTION_KEY", keyFile: "STORAGE_ENCRYPTION_KEY_PATH" } as const

/**
 * Builds a keyring from keys, newest first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (keys: ReadonlyArray<Key>): Keyring["Type"] => {
  const [current] = keys
  if (current === undefined) throw new Error("Keyring.make: at least one key is required")
  const byId = new Map(keys.map((k) => [k.id, Redacted.value(k.key)]))
  const currentKey = Redacted.value(current.key)
  return {
    currentKeyId: current.id,
    keyIds: keys.map((k) => k.id),
    seal: (plaintext, aad) => {
      const iv = crypto.randomBytes(12)
      const cipher = crypto.createCipheriv("aes-256-gcm", currentKey, iv)
      cipher.setAAD(Buffer.from(aad, "utf8"))
      const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()])
      return `v1.${current.id}.${iv.toString("base64url")}.${ct.toString("base64url")}`
    },
    open: (sealed, aad) =>
      Effect.suspend(() => {
        const parts = sealed.split(".")
        const keyId = parts[1] ?? ""
        if (parts.length !== 4 || parts[0] !== "v1") {
          return Effect.fail(new DecryptionError({ keyId: "", reason: "not a sealed record" }))
        }
        const key = byId.get(keyId)
        if (key === undefined) {
          return Effect.fail(new DecryptionError({ keyId, reason: "key id is not in the keyring" }))
        }
        try {
          const iv = Buffer.from(parts[2]!, "base64url")
          const data = Buffer.from(parts[3]!, "base64url")
          if (iv.length !== 12 || data.length < 16) throw new Error("short")
          const decipher = crypto.createDecipheriv("aes-256-gcm", key, iv)
          decipher.setAAD(Buffer.from(aad, "utf8"))
          decipher.setAuthTag(data.subarray(data.length - 16))
          const pt = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()])
          return Effect.succeed(pt.toString("utf8"))
        } catch {
          return Effect.fail(
            new DecryptionError({ keyId, reason: "authentication failed (tampered, wrong key or wrong owner)" })
          )
        }
      })
  }
}

/**
 * Parses a key specification: comma- or newline-separated entries, newest first, each
 * `id:base64` or a bare `base64` (its id is then a fingerprint of the key). Every key must decode
 * to exactly 32 bytes. `variable` names the source in errors; the value is never quoted.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parse = (
  spec: Redacted.Redacted<string>,
  variable: string = keyVariable
): Effect.Effect<Keyring["Type"], EncryptionKeyError> =>
  Effect.suspend(() => {
    const fail = (reason: string) => Effect.fail(new EncryptionKeyError({ variable, reason }))
    const entries = Redacted.value(spec).split(/[,\n\r]/).map((s) => s.trim()).filter((s) => s.length > 0)
    if (entries.length === 0) return fail("it is empty")
    const keys: Array<Key> = []
    for (const [i, entry] of entries.entries()) {
      const colon = entry.indexOf(":")
      const b64 = colon === -1 ? entry : entry.slice(colon + 1).trim()
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) return fail(`entry ${i + 1} is not base64`)
      const bytes = Buffer.from(b64, b64.includes("-") || b64.includes("_") ? "base64url" : "base64")
      if (bytes.length !== 32) return fail(`entry ${i + 1} must decode to exactly 32 bytes, got ${bytes.length}`)
      const id = colon === -1
        ? "k" + crypto.createHash("sha256").update("mcp-credentials/vault/kid\0").update(bytes).digest("hex").slice(0, 12)
        : entry.slice(0, colon).trim()
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(id)) return fail(`entry ${i + 1} has an invalid key id (use [A-Za-z0-9_-], at most 32)`)
      if (keys.some((k) => k.id === id)) return fail(`key id ${id} appears twice`)
      keys.push({ id, key: Redacted.make(new Uint8Array(bytes)) })
    }
    return Effect.succeed(make(keys))
  })

/**
 * A keyring from a key specification (see `parse`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (spec: Redacted.Redacted<string>, variable?: string): Layer.Layer<Keyring, EncryptionKeyError> =>
  Layer.effect(Keyring, parse(spec, variable))

/**
 * A keyring from configuration: `MCP_CREDENTIALS_ENCRYPTION_KEY` (base64 of 32 bytes, or a ring
 * `id:base64,id:base64` newest first) or else `MCP_CREDENTIALS_ENCRYPTION_KEY_FILE` (a file with the
 * same content); when neither is set (and no other variables are given), the seed's
 * `STORAGE_ENCRYPTION_KEY` or `STORAGE_ENCRYPTION_KEY_PATH`. Missing or malformed →
 * `EncryptionKeyError` naming the variable, at construction.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (options?: {
  readonly keyVariable?: string
  readonly keyFileVariable?: string
}): Layer.Layer<Keyring, EncryptionKeyError> => {
  const keyVar = options?.keyVariable ?? keyVariable
  const fileVar = options?.keyFileVariable ?? keyFileVariable
  const pairs: ReadonlyArray<readonly [string, string]> = options?.keyVariable === undefined && options?.keyFileVariable === undefined
    ? [[keyVar, fileVar], [seedVariables.key, seedVariables.keyFile]]
    : [[keyVar, fileVar]]
  const configError = (variable: string) => () =>
    new EncryptionKeyError({ variable, reason: "it could not be read from the configuration" })
  const fromPair = ([keyName, fileName]: readonly [string, string]) =>
    Effect.gen(function*() {
      const inline = yield* Config.option(Config.redacted(keyName)).pipe(Effect.mapError(configError(keyName)))
      if (Option.isSome(inline) && Redacted.value(inline.value).trim() !== "") {
        return Option.some(yield* parse(inline.value, keyName))
      }
      const file = yield* Config.option(Config.string(fileName)).pipe(Effect.mapError(configError(fileName)))
      if (Option.isSome(file) && file.value.trim() !== "") {
        const content = yield* Effect.try({
          try: () => fs.readFileSync(file.value.trim(), "utf8"),
          catch: () => new EncryptionKeyError({ variable: fileName, reason: "the key file could not be read" })
        })
        return Option.some(yield* parse(Redacted.make(content), fileName))
      }
      return Option.none<Keyring["Type"]>()
    })
  return Layer.effect(
    Keyring,
    Effect.gen(function*() {
      for (const pair of pairs) {
        const found = yield* fromPair(pair)
        if (Option.isSome(found)) return found.value
      }
      return yield* new EncryptionKeyError({
        variable: keyVar,
        reason: `it is not set (set ${keyVar} to the base64 of 32 random bytes, or ${fileVar} to a key file)`
      })
    })
  )
}

/**
 * A new random key specification (`id:base64`), for setup scripts and tests.
 *
 * @since 0.1.0
 * @category constructors
 */
export const generateSpec = (id: string): string => `${id}:${crypto.randomBytes(32).toString("base64")}`

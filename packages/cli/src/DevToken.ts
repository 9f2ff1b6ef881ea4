/**
 * Development tokens for testing an MCP server's authentication locally: a JWT signed with a
 * private JWK (RS*, PS*, ES*, EdDSA, from the key) or an HMAC secret (HS256), optionally
 * encrypted as a JWE (`RSA-OAEP-256` + `A256GCM`, `cty: "JWT"`) to the server's public key.
 *
 * The encrypted form is a nested JWT: the JWE's plaintext is the signed JWT, which is what
 * `@mcp-credentials/auth`'s `JweVerifier` requires by default (a JWE that merely decrypts proves
 * nothing, since the encryption key is public).
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { CryptoError, InvalidArgumentError, KeyFormatError } from "./CliError.js"
import * as KeyFile from "./KeyFile.js"

/**
 * How the token is signed: a private JWK, or an HMAC secret (HS256).
 *
 * @since 0.1.0
 * @category models
 */
export type SigningKey =
  | { readonly _tag: "Jwk"; readonly jwk: jose.JWK }
  | { readonly _tag: "Secret"; readonly secret: Redacted.Redacted<string> }

/**
 * @since 0.1.0
 * @category models
 */
export interface MintOptions {
  /** The token's claims; `iat` and `exp` are added (and `iss`/`aud` when given). */
  readonly claims: Readonly<Record<string, unknown>>
  /** Lifetime in seconds. When absent: the claims' own `exp` if they have one, else 1 hour. */
  readonly expiresIn?: number | undefined
  readonly issuer?: string | undefined
  readonly audience?: string | ReadonlyArray<string> | undefined
  readonly signingKey: SigningKey
  /** A public (or private) JWK to encrypt to; the token is then a nested JWT in a JWE. */
  readonly encryptionKey?: jose.JWK | undefined
}

/**
 * The default lifetime: one hour.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultExpiresIn = 3600

/**
 * The content-encryption algorithm of encrypted tokens (the seed's).
 *
 * @since 0.1.0
 * @category constants
 */
export const contentEncryption = "A256GCM"

/**
 * Mints a token: a signed JWT, or with `encryptionKey` a JWE whose plaintext is that JWT.
 *
 * @since 0.1.0
 * @category constructors
 */
export const mint = (options: MintOptions): Effect.Effect<string, CryptoError | InvalidArgumentError> =>
  Effect.gen(function*() {
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    const payload: Record<string, unknown> = { ...options.claims }
    for (const claim of ["exp", "iat", "nbf"]) {
      const value = payload[claim]
      if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value) || Math.abs(value) > 8.64e12)) {
        return yield* new InvalidArgumentError({ option: "--claims", reason: `'${claim}' must be a finite number of seconds` })
      }
    }
    payload.iat = typeof payload.iat === "number" ? payload.iat : now
    if (options.expiresIn !== undefined) payload.exp = now + options.expiresIn
    else if (typeof payload.exp !== "number") payload.exp = now + defaultExpiresIn
    if (options.issuer !== undefined) payload.iss = options.issuer
    if (options.audience !== undefined) {
      payload.aud = typeof options.audience === "string" ? options.audience : [...options.audience]
    }

    const { alg, key, kid } = yield* signingMaterial(options.signingKey)
    const jws = yield* Effect.tryPromise({
      try: () =>
        new jose.SignJWT(payload as jose.JWTPayload)
          .setProtectedHeader({ alg, typ: "JWT", ...(kid !== undefined ? { kid } : {}) })
          .sign(key),
      catch: () => new CryptoError({ operation: "sign the token", reason: `the key cannot sign with ${alg}` })
    })
    if (options.encryptionKey === undefined) return jws

    const enc = yield* encryptionMaterial(options.encryptionKey)
    return yield* Effect.tryPromise({
      try: () =>
        new jose.CompactEncrypt(new TextEncoder().encode(jws))
          .setProtectedHeader({
            alg: enc.alg,
            enc: contentEncryption,
            cty: "JWT",
            ...(enc.kid !== undefined ? { kid: enc.kid } : {})
          })
          .encrypt(enc.key),
      catch: () => new CryptoError({ operation: "encrypt the token", reason: `the key cannot encrypt with ${enc.alg}` })
    })
  })

/**
 * Picks the signing key of a key file: the first key with a private part whose `use` is `sig` or
 * absent. A file of encryption keys is refused with a hint.
 *
 * @since 0.1.0
 * @category constructors
 */
export const selectSigningKey = (
  path: string,
  keys: ReadonlyArray<jose.JWK>
): Effect.Effect<jose.JWK, KeyFormatError> => {
  const found = keys.find((k) => k.d !== undefined && (k.use === undefined || k.use === "sig"))
  if (found !== undefined) return Effect.succeed(found)
  const reason = keys.some((k) => k.use === "enc")
    ? "holds encryption keys (use: enc), not a signing key; create one with 'mcp-credentials keys generate --use sig'"
    : "holds no private signing key"
  return Effect.fail(new KeyFormatError({ path, reason }))
}

/**
 * Picks the encryption key of a key file: the first key whose `use` is `enc` or absent (after
 * `keys rotate`, the newest).
 *
 * @since 0.1.0
 * @category constructors
 */
export const selectEncryptionKey = (
  path: string,
  keys: ReadonlyArray<jose.JWK>
): Effect.Effect<jose.JWK, KeyFormatError> => {
  const found = keys.find((k) => k.use === undefined || k.use === "enc")
  return found !== undefined
    ? Effect.succeed(found)
    : Effect.fail(new KeyFormatError({ path, reason: "holds no encryption key (use: enc)" }))
}

/**
 * Parses `--claims`: a JSON object.
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseClaims = (text: string): Effect.Effect<Record<string, unknown>, InvalidArgumentError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Effect.fail(new InvalidArgumentError({ option: "--claims", reason: "not valid JSON" }))
  }
  return typeof json === "object" && json !== null && !Array.isArray(json)
    ? Effect.succeed(json as Record<string, unknown>)
    : Effect.fail(new InvalidArgumentError({ option: "--claims", reason: "must be a JSON object, e.g. '{\"sub\":\"alice\"}'" }))
}

const units: Readonly<Record<string, number>> = {
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hr: 3600, hrs: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
  w: 604800, week: 604800, weeks: 604800
}

/**
 * Parses a lifetime such as `90s`, `30m`, `1h`, `7d`, `2 weeks` into seconds (at least 1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const parseDuration = (text: string): Effect.Effect<number, InvalidArgumentError> => {
  const m = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(text)
  const unit = m === null ? undefined : units[m[2]!.toLowerCase()]
  const seconds = m === null || unit === undefined ? undefined : Number(m[1]) * unit
  return seconds !== undefined && seconds > 0 && Number.isSafeInteger(seconds)
    ? Effect.succeed(seconds)
    : Effect.fail(new InvalidArgumentError({ option: "--exp", reason: "expected a duration such as 90s, 30m, 1h or 7d" }))
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const signingMaterial = (
  signingKey: SigningKey
): Effect.Effect<
  { readonly alg: string; readonly key: jose.CryptoKey | Uint8Array; readonly kid: string | undefined },
  CryptoError | InvalidArgumentError
> =>
  Effect.gen(function*() {
    if (signingKey._tag === "Secret") {
      const bytes = new TextEncoder().encode(Redacted.value(signingKey.secret))
      if (bytes.byteLength === 0) {
        return yield* new InvalidArgumentError({ option: "--secret-env", reason: "the variable is empty" })
      }
      return { alg: "HS256", key: bytes, kid: undefined }
    }
    const jwk = signingKey.jwk
    const alg = typeof jwk.alg === "string" ? jwk.alg : defaultSigningAlg(jwk)
    if (alg === undefined || !(KeyFile.signingAlgorithms as ReadonlyArray<string>).includes(alg)) {
      return yield* new CryptoError({ operation: "sign the token", reason: "unsupported signing key type or algorithm" })
    }
    const key = yield* Effect.tryPromise({
      try: () => jose.importJWK(jwk, alg),
      catch: () => new CryptoError({ operation: "sign the token", reason: `the key cannot be imported for ${alg}` })
    })
    return { alg, key: key as jose.CryptoKey | Uint8Array, kid: typeof jwk.kid === "string" ? jwk.kid : undefined }
  })

const defaultSigningAlg = (jwk: jose.JWK): string | undefined => {
  switch (jwk.kty) {
    case "RSA":
      return "RS256"
    case "EC":
      return jwk.crv === "P-256" ? "ES256" : jwk.crv === "P-384" ? "ES384" : jwk.crv === "P-521" ? "ES512" : undefined
    case "OKP":
      return jwk.crv === "Ed25519" ? "EdDSA" : undefined
    default:
      return undefined
  }
}

const encryptionMaterial = (
  jwk: jose.JWK
): Effect.Effect<
  { readonly alg: string; readonly key: jose.CryptoKey | Uint8Array; readonly kid: string | undefined },
  CryptoError
> =>
  Effect.gen(function*() {
    if (jwk.kty !== "RSA") {
      return yield* new CryptoError({ operation: "encrypt the token", reason: "the encryption key must be an RSA key" })
    }
    const alg = typeof jwk.alg === "string" ? jwk.alg : "RSA-OAEP-256"
    if (!(KeyFile.encryptionAlgorithms as ReadonlyArray<string>).includes(alg)) {
      return yield* new CryptoError({ operation: "encrypt the token", reason: `unsupported key algorithm ${alg}` })
    }
    const publicKey = yield* Effect.try({
      try: () => KeyFile.publicJwk(jwk),
      catch: () => new CryptoError({ operation: "encrypt the token", reason: "the key cannot be imported" })
    })
    const key = yield* Effect.tryPromise({
      try: () => jose.importJWK(publicKey, alg),
      catch: () => new CryptoError({ operation: "encrypt the token", reason: "the key cannot be imported" })
    })
    return { alg, key: key as jose.CryptoKey | Uint8Array, kid: typeof jwk.kid === "string" ? jwk.kid : undefined }
  })

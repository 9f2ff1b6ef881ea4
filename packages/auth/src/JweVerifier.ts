/**
 * Verifies encrypted bearer tokens (JWE compact form), as mcp-auth-middleware does: the server
 * holds private keys (a JWKS file at `MCP_KEY_FILE_PATH` in the seed's format, or keys given as an
 * option; several keys, chosen by `kid`) and publishes their public halves.
 *
 * **A JWE that merely decrypts proves nothing**: the encryption key is public (the server itself
 * publishes it), so anyone can mint one with any claims. By default the decrypted payload must
 * therefore be a JWT signed by a trusted issuer (`jwt`: a `JwtVerifier` configuration). The
 * seed's behaviour, `decryptionOnly: true`, is available for existing deployments: it logs a
 * warning at startup and its tokens are forgeable.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto"
import { readFile } from "node:fs/promises"
import * as AccessToken from "./AccessToken.js"
import { type AuthError, AuthConfigError, InvalidTokenError } from "./AuthError.js"
import * as Jose from "./internal/jose.js"
import * as JwtVerifier from "./JwtVerifier.js"
import * as TokenVerifier from "./TokenVerifier.js"

/**
 * Where the private keys come from: `keys` (a JWKS, a list of JWKs or one JWK, each with its
 * private part) or `keyFile` (a path to such a JSON file: the seed's `mcp-private.json`).
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions =
  | { readonly keys: jose.JSONWebKeySet | ReadonlyArray<jose.JWK> | jose.JWK; readonly keyFile?: never }
  | { readonly keyFile: string; readonly keys?: never }

/**
 * What the decrypted payload must be. By default (`jwt`) a JWT signed by a trusted issuer,
 * verified with that `JwtVerifier` configuration (its `cache` option is ignored: the outer
 * verifier caches). `decryptionOnly: true` is the seed's behaviour: the payload is a JSON object
 * with numeric `iat` and `exp`, and **anyone holding the public key can forge it**.
 *
 * @since 0.1.0
 * @category models
 */
export type ModeOptions =
  | {
    readonly jwt: JwtVerifier.Options
    readonly decryptionOnly?: false | undefined
    readonly issuer?: never
    readonly audience?: never
  }
  | {
    readonly decryptionOnly: true
    readonly jwt?: never
    /** Checked when given (the seed checks neither). */
    readonly issuer?: string | ReadonlyArray<string> | undefined
    /** Checked when given (the seed checks neither). */
    readonly audience?: string | ReadonlyArray<string> | undefined
  }

/**
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Accepted JWE `alg` values. Default `RSA-OAEP-256` and `RSA-OAEP` (the seed's). */
  readonly keyManagementAlgorithms?: ReadonlyArray<jose.JWEKeyManagementAlgorithm> | undefined
  /** Accepted JWE `enc` values. Default `A256GCM` (the seed's). */
  readonly contentEncryptionAlgorithms?: ReadonlyArray<jose.JWEContentEncryptionAlgorithm> | undefined
  /** Leeway on `iat`, `nbf` and `exp` in `decryptionOnly` mode. Default 30 s (the seed has none: `0`). */
  readonly clockTolerance?: Duration.DurationInput | undefined
  /** Tokens longer than this many bytes are refused before parsing. Default 16 KiB. */
  readonly maxTokenSize?: number | undefined
  /** The verified-token cache (`TokenVerifier.cached`); `false` turns it off. On by default. */
  readonly cache?: TokenVerifier.CacheOptions | false | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Options = KeyOptions & ModeOptions & CommonOptions

/**
 * A private key, ready for decryption.
 *
 * @since 0.1.0
 * @category models
 */
export interface PrivateKey {
  readonly kid: string | undefined
  readonly alg: string | undefined
  readonly key: KeyObject
  /** The public half, as published. */
  readonly publicJwk: jose.JWK
}

/**
 * The public halves of the verifier's keys, as a JWKS, for the `/.well-known/jwks.json` route.
 * Provided by `layer` and `layerConfig` alongside `TokenVerifier`.
 *
 * @since 0.1.0
 * @category tags
 */
export class PublicKeys extends Context.Tag("@mcp-credentials/auth/JweVerifier/PublicKeys")<
  PublicKeys,
  jose.JSONWebKeySet
>() {}

/**
 * Builds a verifier and the public key set (without the cache; the layers add it). Fails with
 * `AuthConfigError` when there is no usable private key. Logs a warning when `decryptionOnly`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<{ readonly verifier: TokenVerifier.Verifier; readonly publicKeys: jose.JSONWebKeySet }, AuthConfigError> =>
  Effect.gen(function*() {
    const keys = options.keyFile !== undefined
      ? yield* loadKeyFile(options.keyFile)
      : yield* importKeys(options.keys, "keys")
    const keyAlgs = [...(options.keyManagementAlgorithms ?? ["RSA-OAEP-256", "RSA-OAEP"])]
    const encAlgs = [...(options.contentEncryptionAlgorithms ?? ["A256GCM"])]
    if (keyAlgs.length === 0) return yield* new AuthConfigError({ field: "keyManagementAlgorithms", reason: "empty" })
    if (encAlgs.length === 0) return yield* new AuthConfigError({ field: "contentEncryptionAlgorithms", reason: "empty" })
    if (keyAlgs.some((a) => a === "dir" || a.startsWith("PBES2"))) {
      return yield* new AuthConfigError({ field: "keyManagementAlgorithms", reason: "only asymmetric key management is supported" })
    }
    // a key that can decrypt none of the accepted algorithms would refuse every token
    for (const [i, key] of keys.entries()) {
      const usable = key.alg !== undefined ? [key.alg] : keyManagementFamily(key.key)
      if (!usable.some((a) => keyAlgs.includes(a as jose.JWEKeyManagementAlgorithm))) {
        return yield* new AuthConfigError({
          field: options.keyFile !== undefined ? "keyFile" : "keys",
          reason: `key ${i} (kid ${key.kid ?? "unset"}, ${key.alg ?? key.key.asymmetricKeyType ?? "unknown type"}) ` +
            "cannot decrypt with any of keyManagementAlgorithms"
        })
      }
    }
    const maxTokenSize = options.maxTokenSize ?? Jose.defaultMaxTokenSize
    const tolerance = Duration.toMillis(Duration.decode(options.clockTolerance ?? JwtVerifier.defaultClockTolerance))

    let payloadCheck: (token: Redacted.Redacted<string>, plaintext: string) => Effect.Effect<AccessToken.AccessToken, AuthError>
    if (options.decryptionOnly === true) {
      yield* Effect.logWarning(
        "JweVerifier: decryptionOnly mode. Tokens are only decrypted, never authenticated: anyone holding the " +
          "published public key can forge one with any claims. Require a signed JWT inside (the `jwt` option)."
      )
      const issuer = options.issuer === undefined ? undefined : [options.issuer].flat()
      const audience = options.audience === undefined ? undefined : [options.audience].flat()
      payloadCheck = (token, plaintext) => checkUnsigned(token, plaintext, { tolerance, issuer, audience })
    } else {
      if (options.jwt === undefined) {
        return yield* new AuthConfigError({
          field: "jwt",
          reason: "required: the issuer whose signature the decrypted JWT must carry (or decryptionOnly: true)"
        })
      }
      const inner = yield* JwtVerifier.make({ ...options.jwt, cache: false })
      payloadCheck = (token, plaintext) =>
        Effect.gen(function*() {
          if (!isSignedJwt(plaintext)) return yield* new InvalidTokenError({ reason: "unsigned JWE payload" })
          const verified = yield* inner.verify(Redacted.make(plaintext))
          return yield* toAccessToken(token, verified.claims, true)
        })
    }

    const byKid = new Map(keys.filter((k) => k.kid !== undefined).map((k) => [k.kid!, k]))
    const verifier = TokenVerifier.make((token) =>
      Effect.gen(function*() {
        const raw = yield* Jose.precheck(token, maxTokenSize, 5)
        const header = yield* Jose.decodeHeader(raw)
        if (
          typeof header.alg !== "string" || !keyAlgs.includes(header.alg as jose.JWEKeyManagementAlgorithm) ||
          typeof header.enc !== "string" || !encAlgs.includes(header.enc as jose.JWEContentEncryptionAlgorithm)
        ) {
          return yield* new InvalidTokenError({ reason: "unsupported algorithm" })
        }
        yield* Jose.checkCrit(header, [])
        if (header.zip !== undefined) return yield* new InvalidTokenError({ reason: "unsupported algorithm" })
        let key: PrivateKey | undefined
        if (header.kid !== undefined) {
          if (typeof header.kid !== "string") return yield* new InvalidTokenError({ reason: "malformed" })
          key = byKid.get(header.kid)
          if (key === undefined) return yield* new InvalidTokenError({ reason: "unknown key id" })
        } else {
          if (keys.length !== 1) return yield* new InvalidTokenError({ reason: "key id required" })
          key = keys[0]!
        }
        if (key.alg !== undefined && key.alg !== header.alg) {
          return yield* new InvalidTokenError({ reason: "unsupported algorithm" })
        }
        const privateKey = key.key
        const { plaintext } = yield* Effect.tryPromise({
          try: () =>
            jose.compactDecrypt(raw, privateKey, {
              keyManagementAlgorithms: keyAlgs,
              contentEncryptionAlgorithms: encAlgs,
              maxDecompressedLength: 0
            }),
          catch: (e) => new InvalidTokenError({ reason: Jose.reasonOf(e) })
        })
        const text = yield* Effect.try({
          try: () => new TextDecoder("utf-8", { fatal: true }).decode(plaintext),
          catch: () => new InvalidTokenError({ reason: "malformed" })
        })
        return yield* payloadCheck(token, text)
      })
    )
    return { verifier, publicKeys: { keys: keys.map((k) => k.publicJwk) } }
  })

/**
 * The verifier as a layer (with the verified-token cache unless `cache: false`), together with
 * its public keys (`PublicKeys`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<TokenVerifier.TokenVerifier | PublicKeys, AuthConfigError> => fromMake(Effect.succeed(options))

/**
 * `layer` with options read from `Config`. For the seed's setup:
 * `layerConfig({ keyFile: JweVerifier.keyFilePath, jwt: … })`. A missing key file is an error at
 * startup (the seed started with authentication silently disabled).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<TokenVerifier.TokenVerifier | PublicKeys, AuthConfigError | ConfigError.ConfigError> =>
  fromMake(Config.unwrap(options))

/**
 * The seed's environment variable for the key file: `MCP_KEY_FILE_PATH`.
 *
 * @since 0.1.0
 * @category config
 */
export const keyFilePath: Config.Config<string> = Config.nonEmptyString("MCP_KEY_FILE_PATH")

/**
 * Reads a private key file in the seed's format: `{"keys": [...]}` (every key is used, chosen by
 * `kid`; the seed used only the first) or a single JWK object. Logs each loaded key's `kid` and
 * `kty` at INFO, never key material.
 *
 * @since 0.1.0
 * @category constructors
 */
export const loadKeyFile = (path: string): Effect.Effect<ReadonlyArray<PrivateKey>, AuthConfigError> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) =>
        new AuthConfigError({
          field: "keyFile",
          reason: (e as NodeJS.ErrnoException)?.code === "ENOENT" ? "file not found" : "file not readable"
        })
    })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => new AuthConfigError({ field: "keyFile", reason: "not valid JSON" })
    })
    return yield* importKeys(json, "keyFile")
  })

/**
 * The published form of a private JWK: its public members (`kty`, `kid`, `alg`, `use` and, for
 * RSA, `n` and `e`, as the seed published; for EC and OKP keys `crv`, `x`, `y` too, which the seed
 * dropped).
 *
 * @since 0.1.0
 * @category utils
 */
export const publicJwk = (jwk: jose.JWK): jose.JWK => {
  const pub = createPublicKey(createPrivateKey({ key: jwk as JsonWebKey, format: "jwk" })).export({ format: "jwk" })
  const out: Record<string, unknown> = { kty: pub.kty }
  for (const k of ["kid", "alg", "use"] as const) if (typeof jwk[k] === "string") out[k] = jwk[k]
  for (const k of ["n", "e", "crv", "x", "y"] as const) if (pub[k] !== undefined) out[k] = pub[k]
  return out as jose.JWK
}

// internals

const fromMake = <E>(options: Effect.Effect<Options, E>) =>
  Layer.effectContext(
    Effect.gen(function*() {
      const o = yield* options
      const { publicKeys, verifier } = yield* make(o)
      const cachedVerifier = yield* TokenVerifier.withCache(o.cache)(Effect.succeed(verifier))
      return Context.make(TokenVerifier.TokenVerifier, cachedVerifier).pipe(Context.add(PublicKeys, publicKeys))
    })
  )

const importKeys = (input: unknown, field: string): Effect.Effect<ReadonlyArray<PrivateKey>, AuthConfigError> =>
  Effect.gen(function*() {
    const fail = (reason: string) => Effect.fail(new AuthConfigError({ field, reason }))
    let list: ReadonlyArray<unknown>
    if (Array.isArray(input)) list = input
    else if (typeof input === "object" && input !== null && "keys" in input) {
      const keys = (input as { keys: unknown }).keys
      if (!Array.isArray(keys)) return yield* fail("'keys' is not an array")
      list = keys
    } else if (typeof input === "object" && input !== null) list = [input]
    else return yield* fail("not a JWK or a JWKS")
    if (list.length === 0) return yield* fail("the key set is empty")
    const out: Array<PrivateKey> = []
    for (const [i, jwk] of list.entries()) {
      if (typeof jwk !== "object" || jwk === null || Array.isArray(jwk)) return yield* fail(`key ${i} is not a JWK`)
      const j = jwk as jose.JWK
      if (j.d === undefined) return yield* fail(`key ${i} has no private part`)
      if (j.use !== undefined && j.use !== "enc") return yield* fail(`key ${i} is not an encryption key (use)`)
      const imported = yield* Effect.try({
        try: () => ({ key: createPrivateKey({ key: j as JsonWebKey, format: "jwk" }), publicJwk: publicJwk(j) }),
        catch: () => new AuthConfigError({ field, reason: `key ${i} cannot be imported` })
      })
      out.push({ kid: typeof j.kid === "string" ? j.kid : undefined, alg: typeof j.alg === "string" ? j.alg : undefined, ...imported })
      yield* Effect.logInfo(`JWE key loaded (kid=${typeof j.kid === "string" ? j.kid : "unknown"}, kty=${j.kty ?? "unknown"})`)
    }
    const kids = out.map((k) => k.kid).filter((k) => k !== undefined)
    if (new Set(kids).size !== kids.length) return yield* fail("two keys share a kid")
    if (out.length > 1 && kids.length !== out.length) return yield* fail("with several keys, every key needs a kid")
    return out
  })

/** The JWE key-management algorithms a private key of this type can decrypt with. */
const keyManagementFamily = (key: KeyObject): ReadonlyArray<string> => {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RSA-OAEP", "RSA-OAEP-256", "RSA-OAEP-384", "RSA-OAEP-512", "RSA1_5"]
    case "ec":
    case "x25519":
    case "x448":
      return ["ECDH-ES", "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW"]
    default:
      return []
  }
}

const isSignedJwt = (text: string): boolean => {
  const parts = text.split(".")
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false
  try {
    const header = jose.decodeProtectedHeader(text)
    return typeof header.alg === "string" && header.alg.toLowerCase() !== "none"
  } catch {
    return false
  }
}

const STANDARD = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "scp", "client_id", "azp", "cid"]

/**
 * The seed's claims rule: `payload.data` when present, else the whole payload; never empty. The
 * payload's registered claims (`STANDARD`) win over `data`'s for the client id, subject, scopes
 * and expiry. A signed payload's registered claims are kept in the claims too (`signed`), as for
 * any other JWT: `toAuthInfo` finds its verified `aud`, `requiredClaims` its `sub`. In
 * `decryptionOnly` mode the claims are `data` alone, as the seed's.
 */
const toAccessToken = (
  token: Redacted.Redacted<string>,
  payload: Readonly<Record<string, unknown>>,
  signed: boolean
): Effect.Effect<AccessToken.AccessToken, InvalidTokenError> => {
  let claims: Readonly<Record<string, unknown>> = payload
  if (Object.prototype.hasOwnProperty.call(payload, "data")) {
    const data = payload.data
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      return Effect.fail(new InvalidTokenError({ reason: "malformed" }))
    }
    claims = data as Record<string, unknown>
  }
  if (Object.keys(claims).length === 0) return Effect.fail(new InvalidTokenError({ reason: "empty claims" }))
  const merged: Record<string, unknown> = { ...claims }
  for (const k of STANDARD) if (payload[k] !== undefined) merged[k] = payload[k]
  const timeProblem = Jose.timeClaimsProblem(merged)
  if (timeProblem !== undefined) return Effect.fail(timeProblem)
  const base = AccessToken.fromClaims(token, merged)
  return Effect.succeed(signed ? base : AccessToken.make({ ...base, claims }))
}

const checkUnsigned = (
  token: Redacted.Redacted<string>,
  plaintext: string,
  options: {
    readonly tolerance: number
    readonly issuer: ReadonlyArray<string> | undefined
    readonly audience: ReadonlyArray<string> | undefined
  }
): Effect.Effect<AccessToken.AccessToken, InvalidTokenError> =>
  Effect.gen(function*() {
    const invalid = (reason: InvalidTokenError["reason"]) => new InvalidTokenError({ reason })
    let payload: unknown
    try {
      payload = JSON.parse(plaintext)
    } catch {
      return yield* invalid("malformed")
    }
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return yield* invalid("malformed")
    const p = payload as Record<string, unknown>
    if (p.iat === undefined || p.exp === undefined) return yield* invalid("missing claim")
    const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v)
    if (!isNum(p.iat) || !isNum(p.exp)) return yield* invalid("malformed")
    const now = yield* Clock.currentTimeMillis
    const tol = options.tolerance
    if (p.iat * 1000 > now + tol) return yield* invalid("not yet valid")
    if (p.nbf !== undefined && (!isNum(p.nbf) || p.nbf * 1000 > now + tol)) return yield* invalid("not yet valid")
    if (p.exp <= p.iat) return yield* invalid("malformed")
    if (p.exp * 1000 + tol <= now) return yield* invalid("expired")
    if (options.issuer !== undefined && !(typeof p.iss === "string" && options.issuer.includes(p.iss))) {
      return yield* invalid("wrong issuer")
    }
    if (options.audience !== undefined) {
      const aud = typeof p.aud === "string" ? [p.aud] : Array.isArray(p.aud) ? p.aud : []
      if (!aud.some((a) => typeof a === "string" && options.audience!.includes(a))) return yield* invalid("wrong audience")
    }
    return yield* toAccessToken(token, p, false)
  })

/**
 * Verifies signed JWT bearer tokens (JWS compact form) with `jose`: against an HMAC secret, a
 * public key (PEM or JWK), a fixed JWKS, or a remote JWKS URI. Checks the issuer, the audience
 * (required unless explicitly disabled), an algorithm allow-list, `exp`/`nbf` with a clock
 * tolerance (30 s by default), `crit`, and refuses tokens over 16 KiB before parsing them.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto"
import * as AccessToken from "./AccessToken.js"
import { AuthConfigError, type AuthError, InvalidTokenError, type JwksFetchError } from "./AuthError.js"
import * as Http from "./internal/http.js"
import * as Jose from "./internal/jose.js"
import * as Jwks from "./internal/jwks.js"
import * as TokenVerifier from "./TokenVerifier.js"

/**
 * Where the verification key comes from: exactly one of
 *
 * - `secret`: an HMAC secret (HS256/384/512 only);
 * - `publicKey`: a PEM (SPKI public key or X.509 certificate) or a public JWK;
 * - `jwks`: a fixed JSON Web Key Set;
 * - `jwksUri`: a remote JWKS, fetched on demand and cached (see `JwksOptions`);
 * - `discover: true`: the `jwks_uri` of `issuer` (a single issuer), found on first use from its
 *   OpenID configuration or RFC 8414 metadata (which must name the same issuer), then as `jwksUri`.
 *
 * Asymmetric sources never accept HS* tokens, so an HS256 token "signed" with the RSA public key
 * is refused as `unsupported algorithm`.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyOptions =
  | { readonly secret: Redacted.Redacted<string>; readonly publicKey?: never; readonly jwks?: never; readonly jwksUri?: never; readonly discover?: never }
  | { readonly publicKey: string | jose.JWK; readonly secret?: never; readonly jwks?: never; readonly jwksUri?: never; readonly discover?: never }
  | { readonly jwks: jose.JSONWebKeySet; readonly secret?: never; readonly publicKey?: never; readonly jwksUri?: never; readonly discover?: never }
  | { readonly jwksUri: string | URL; readonly secret?: never; readonly publicKey?: never; readonly jwks?: never; readonly discover?: never }
  | {
    readonly discover: true
    readonly secret?: never
    readonly publicKey?: never
    readonly jwks?: never
    readonly jwksUri?: never
  }

/**
 * How a remote JWKS is fetched and cached.
 *
 * @since 0.1.0
 * @category models
 */
export interface JwksOptions {
  /** Per fetch. Default 5 s: a slow JWKS fails the verification with `JwksFetchError` instead of hanging it. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Minimum time between two fetches triggered by an unknown `kid`. Default 30 s. */
  readonly cooldown?: Duration.DurationInput | undefined
  /** The key set is refetched when older than this (the old one is kept if that fails). Default 10 min. */
  readonly maxAge?: Duration.DurationInput | undefined
  /** Largest accepted JWKS body in bytes. Default 1 MiB. */
  readonly maxSize?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** A `fetch` implementation (default: the global one). */
  readonly fetch?: Http.Fetch | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions {
  /** Accepted `iss` value(s). When set, the claim is required. */
  readonly issuer?: string | ReadonlyArray<string> | undefined
  /**
   * Accepted `aud` value(s), normally the MCP server's own resource URL (RFC 8707; the MCP spec
   * forbids accepting tokens minted for another resource). Required: pass `false` to disable the
   * check, knowingly.
   */
  readonly audience: string | ReadonlyArray<string> | false
  /**
   * The accepted `alg` values. Default: HS256/384/512 for a secret; the algorithms of the key's
   * type for a public key; every asymmetric algorithm for a JWKS. `none` is never accepted, HS*
   * only with a secret, asymmetric ones only with keys (checked when the layer is built).
   */
  readonly algorithms?: ReadonlyArray<string> | undefined
  /** Leeway on `exp` and `nbf`. Default 30 s. */
  readonly clockTolerance?: Duration.DurationInput | undefined
  /** Refuse tokens without `exp` (`missing claim`). Default `true`: the MCP SDK refuses them too. */
  readonly requireExpiry?: boolean | undefined
  /** Further claims that must be present. */
  readonly requiredClaims?: ReadonlyArray<string> | undefined
  /** Expected `typ` header, e.g. `"at+jwt"` (RFC 9068). Not checked by default. */
  readonly typ?: string | undefined
  /** Tokens longer than this many bytes are refused before parsing. Default 16 KiB. */
  readonly maxTokenSize?: number | undefined
  /** `crit` header extensions the application handles itself. Default none: any `crit` is refused. */
  readonly crit?: ReadonlyArray<string> | undefined
  readonly jwksOptions?: JwksOptions | undefined
  /** The verified-token cache (`TokenVerifier.cached`); `false` turns it off. On by default. */
  readonly cache?: TokenVerifier.CacheOptions | false | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export type Options = KeyOptions & CommonOptions

/**
 * The default clock tolerance: 30 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultClockTolerance: Duration.Duration = Duration.seconds(30)

/**
 * Builds a verifier (without the cache; the layers add it). Fails with `AuthConfigError` when
 * the options cannot work: no key or several, a key that does not parse, an RSA key under 2048
 * bits (`publicKey` or in `jwks`: `jose` verifies nothing with it), an algorithm outside the key's
 * family, no audience. In a remote JWKS such an RSA key is skipped, with a warning.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<TokenVerifier.Verifier, AuthConfigError> =>
  Effect.gen(function*() {
    const audience = yield* checkAudience(options.audience)
    const { algorithms, resolveKey, staticKey } = yield* keySource(options)
    const tolerance = Duration.toSeconds(Duration.decode(options.clockTolerance ?? defaultClockTolerance))
    const maxTokenSize = options.maxTokenSize ?? Jose.defaultMaxTokenSize
    const understood = [...(options.crit ?? [])]
    const requiredClaims = [
      ...(options.requireExpiry === false ? [] : ["exp"]),
      ...(options.requiredClaims ?? [])
    ]
    const issuer = options.issuer === undefined ? undefined : typeof options.issuer === "string" ? options.issuer : [...options.issuer]

    const algorithmList = [...algorithms]
    const crit = Jose.critOption(understood)
    // The options `jose` gets, always with the same shape. With the runtime's clock (`verify`) a
    // fresh object per call: `jose` reads `currentDate` after its own `await`, so one shared object
    // with the time in it would race; and a spread (`{ ...base, currentDate }`) made every
    // verification ~7 µs slower in `jose` than this literal (bench/, "Auth"). Without a date
    // (`verifyPromise`) `jose` reads the system clock: one object for every call.
    const joseOptions = (currentDate: Date | undefined): jose.JWTVerifyOptions =>
      ({
        algorithms: algorithmList,
        audience,
        issuer,
        typ: options.typ,
        clockTolerance: tolerance,
        requiredClaims,
        crit,
        currentDate
      }) as jose.JWTVerifyOptions
    const optionsAt = (now: number) => joseOptions(new Date(now))
    const systemClockOptions = joseOptions(undefined)
    const verifyWith = (raw: string, key: jose.KeyInput, now: number) =>
      Effect.tryPromise({
        try: () => jose.jwtVerify(raw, key, optionsAt(now)),
        catch: Jose.toInvalidToken
      })

    // A fixed key (secret or public key): one pass through `jose`, with the key itself (a key
    // function costs `jose` an extra await). `jose` checks `alg` against the allow-list and `crit`
    // against its own rule; this verifier's stricter `crit` rule is applied to the verified
    // header (the token is refused either way). The whole verification is one `Effect.async`:
    // no fiber steps between the size check, `jose` and the claims.
    if (staticKey !== undefined) {
      // `now` from the runtime's `Clock` (so `TestClock` applies); `undefined`: the system clock
      const verifyAt = (token: Redacted.Redacted<string>, now: number | undefined): Promise<AccessToken.AccessToken> => {
        const raw = Jose.precheckSync(token, maxTokenSize, 3)
        if (typeof raw !== "string") return Promise.reject(raw)
        return jose.jwtVerify(raw, staticKey, now === undefined ? systemClockOptions : optionsAt(now)).then(
          ({ payload, protectedHeader }) => {
            const problem = Jose.critProblem(protectedHeader, understood) ?? Jose.timeClaimsProblem(payload) ??
              Jose.issuedInFutureProblem(payload, now ?? Date.now(), tolerance)
            if (problem !== undefined) throw problem
            return AccessToken.fromClaims(token, payload)
          },
          (error) => {
            throw Jose.toInvalidToken(error)
          }
        )
      }
      return TokenVerifier.make(
        (token) =>
          Effect.clockWith((clock) =>
            Effect.async<AccessToken.AccessToken, AuthError>((resume) => {
              verifyAt(token, clock.unsafeCurrentTimeMillis()).then(
                (accessToken) => resume(Effect.succeed(accessToken)),
                (error: AuthError) => resume(Effect.fail(error))
              )
            })
          ),
        (token) => verifyAt(token, undefined)
      )
    }

    // A key set: the header picks the key (and an unknown `kid` may trigger a JWKS fetch), so the
    // header is decoded and checked first: nothing is fetched for a token that would be refused.
    return TokenVerifier.make((token) =>
      Effect.gen(function*() {
        const raw = yield* Jose.precheck(token, maxTokenSize, 3)
        const header = yield* Jose.decodeHeader(raw)
        if (typeof header.alg !== "string" || !algorithms.includes(header.alg)) {
          return yield* new InvalidTokenError({ reason: "unsupported algorithm" })
        }
        yield* Jose.checkCrit(header, understood)
        const key = yield* resolveKey(header)
        const now = yield* Clock.currentTimeMillis
        const { payload } = yield* verifyWith(raw, key, now)
        const problem = Jose.timeClaimsProblem(payload) ?? Jose.issuedInFutureProblem(payload, now, tolerance)
        if (problem !== undefined) return yield* problem
        return AccessToken.fromClaims(token, payload)
      })
    )
  })

/**
 * The verifier as a layer, with the verified-token cache unless `cache: false`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError> =>
  Layer.effect(TokenVerifier.TokenVerifier, make(options).pipe(TokenVerifier.withCache(options.cache)))

/**
 * `layer` with options read from `Config` (secrets through `Config.redacted`), e.g.
 * `layerConfig({ secret: Config.redacted("JWT_SECRET"), audience: Config.string("JWT_AUDIENCE") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError | ConfigError.ConfigError> =>
  Layer.effect(
    TokenVerifier.TokenVerifier,
    Effect.flatMap(Config.unwrap(options), (o) => make(o).pipe(TokenVerifier.withCache(o.cache)))
  )

// internals

const checkAudience = (
  audience: Options["audience"] | undefined
): Effect.Effect<string | Array<string> | undefined, AuthConfigError> => {
  if (audience === false) return Effect.succeed(undefined)
  if (typeof audience === "string" && audience !== "") return Effect.succeed(audience)
  if (Array.isArray(audience) && audience.length > 0 && audience.every((a) => typeof a === "string" && a !== "")) {
    return Effect.succeed([...audience])
  }
  return Effect.fail(
    new AuthConfigError({ field: "audience", reason: "required: the accepted audience(s), or false to disable the check" })
  )
}

const configError = (field: string, reason: string) => new AuthConfigError({ field, reason })

const checkAlgorithms = (
  requested: ReadonlyArray<string> | undefined,
  family: ReadonlyArray<string>,
  kind: string
): Effect.Effect<ReadonlyArray<string>, AuthConfigError> => {
  if (requested === undefined) {
    return family.length === 0 ? Effect.fail(configError("publicKey", "unsupported key type")) : Effect.succeed(family)
  }
  if (requested.length === 0) return Effect.fail(configError("algorithms", "empty allow-list"))
  for (const alg of requested) {
    if (alg.toLowerCase() === "none") return Effect.fail(configError("algorithms", "\"none\" is never accepted"))
    if (!family.includes(alg)) return Effect.fail(configError("algorithms", `${alg} cannot be used with ${kind}`))
  }
  return Effect.succeed(requested)
}

interface KeySource {
  readonly algorithms: ReadonlyArray<string>
  readonly resolveKey: (
    header: jose.ProtectedHeaderParameters
  ) => Effect.Effect<jose.KeyInput, InvalidTokenError | JwksFetchError>
  /** Set when the key does not depend on the token (a secret or one public key). */
  readonly staticKey?: jose.KeyInput | undefined
}

const keySource = (options: Options): Effect.Effect<KeySource, AuthConfigError> =>
  Effect.gen(function*() {
    const given = (["secret", "publicKey", "jwks", "jwksUri", "discover"] as const).filter((k) => options[k] !== undefined)
    if (given.length !== 1) {
      return yield* configError("key", "give exactly one of secret, publicKey, jwks, jwksUri, discover")
    }
    if (options.secret !== undefined) {
      const bytes = new TextEncoder().encode(Redacted.value(options.secret))
      if (bytes.byteLength === 0) return yield* configError("secret", "empty")
      if (bytes.byteLength < 32) {
        yield* Effect.logWarning("JwtVerifier: the HMAC secret is shorter than 32 bytes; use a longer random secret")
      }
      const algorithms = yield* checkAlgorithms(options.algorithms, Jose.HMAC_ALGS, "a secret")
      return { algorithms, resolveKey: () => Effect.succeed(bytes), staticKey: bytes }
    }
    if (options.publicKey !== undefined) {
      const key = yield* importPublicKey(options.publicKey)
      const algorithms = yield* checkAlgorithms(options.algorithms, Jose.algorithmsForKey(key), "this public key")
      return { algorithms, resolveKey: () => Effect.succeed(key), staticKey: key }
    }
    const algorithms = yield* checkAlgorithms(options.algorithms, Jose.ASYMMETRIC_ALGS, "a key set")
    if (options.jwks !== undefined) {
      const set = yield* Jwks.local(options.jwks)
      return { algorithms, resolveKey: set.resolve }
    }
    if (options.discover !== undefined) {
      if (options.discover !== true) return yield* configError("discover", "must be true")
      if (typeof options.issuer !== "string") return yield* configError("issuer", "discover needs one issuer (a string)")
      yield* remoteUrl("issuer", options.issuer, "the issuer", "its metadata and keys")
      const set = yield* Jwks.discovered(options.issuer, options.jwksOptions)
      return { algorithms, resolveKey: set.resolve }
    }
    const uri = yield* remoteUrl("jwksUri", String(options.jwksUri), "jwksUri", "the signing keys")
    const set = yield* Jwks.remote(uri.href, options.jwksOptions)
    return { algorithms, resolveKey: set.resolve }
  })

/**
 * `value` (the option `field`) as an http(s) URL, or a `field` error. Plain http to a host other
 * than loopback is allowed (a cluster-internal name is common) with a warning: anyone on the path
 * could replace what it serves (`what`).
 */
const remoteUrl = (field: string, value: string, subject: string, what: string): Effect.Effect<URL, AuthConfigError> =>
  Effect.gen(function*() {
    const url = yield* Effect.try({ try: () => new URL(value), catch: () => configError(field, "not a URL") })
    if (url.protocol !== "https:" && url.protocol !== "http:") return yield* configError(field, "not an http(s) URL")
    if (Http.isPlainHttpOffHost(url)) {
      yield* Effect.logWarning(
        `JwtVerifier: ${subject} is plain http to a non-loopback host; ${what} can be replaced in transit: use https`
      )
    }
    return url
  })

const importPublicKey = (input: string | jose.JWK): Effect.Effect<KeyObject, AuthConfigError> =>
  Effect.try({
    try: () => {
      if (typeof input === "string") return createPublicKey(input)
      if (input.kty === "oct") throw new Error("symmetric")
      return createPublicKey({ key: input as JsonWebKey, format: "jwk" })
    },
    catch: () => configError("publicKey", "not a PEM public key, certificate or asymmetric JWK")
  }).pipe(
    // `jose` verifies nothing with an RSA key under 2048 bits: every token would be refused as
    // `malformed`, so the key is refused now (as `ClientAssertion` refuses such a private key)
    Effect.filterOrFail(
      (key) =>
        !((key.asymmetricKeyType === "rsa" || key.asymmetricKeyType === "rsa-pss") &&
          (key.asymmetricKeyDetails?.modulusLength ?? 2048) < 2048),
      () => configError("publicKey", "an RSA key needs at least 2048 bits")
    )
  )

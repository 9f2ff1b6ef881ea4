/**
 * The service that turns a bearer token into a verified `AccessToken`, whatever the token kind
 * (JWT, JWE, static, introspected). `firstOf` tries several verifiers in order; `cached` puts a
 * bounded cache of verified tokens in front of one, and every verifier layer of this package
 * applies it by default.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as AccessToken from "./AccessToken.js"
import { type AuthError, InvalidTokenError, MissingTokenError, specificity } from "./AuthError.js"
import { lockFields } from "./internal/freeze.js"
import * as Lru from "./internal/lru.js"

/**
 * What a verifier does: accept a token (and say who it belongs to) or refuse it with a tagged
 * error. A verifier never logs or returns the token's value.
 *
 * @since 0.1.0
 * @category models
 */
export interface Verifier {
  readonly verify: (token: Redacted.Redacted<string>) => Effect.Effect<AccessToken.AccessToken, AuthError>
  /**
   * The same verification for code outside Effect (an Express middleware, a plain-async tool):
   * resolves with the `AccessToken` or rejects with the same tagged `AuthError` as `verify`. It
   * reads the system clock, not the `Clock`. `JwtVerifier` with a fixed key (secret or public
   * key) and the cache answer it without entering the Effect runtime; other verifiers run
   * `verify`.
   */
  readonly verifyPromise: (token: Redacted.Redacted<string>) => Promise<AccessToken.AccessToken>
}

/**
 * @since 0.1.0
 * @category tags
 */
export class TokenVerifier extends Context.Tag("@mcp-credentials/auth/TokenVerifier")<TokenVerifier, Verifier>() {}

/**
 * Options of the verified-token cache. A token is kept until the earliest of its expiry and
 * `maxTtl` after it was verified, and at most `capacity` tokens are kept (least recently used
 * evicted first). Refusals are never cached.
 *
 * @since 0.1.0
 * @category models
 */
export interface CacheOptions {
  /** Default 1000 tokens. `0` disables the cache. */
  readonly capacity?: number | undefined
  /** Default 5 minutes: how long a revoked but unexpired token may still be accepted. */
  readonly maxTtl?: Duration.DurationInput | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultCacheOptions: { readonly capacity: number; readonly maxTtl: Duration.Duration } = {
  capacity: 1000,
  maxTtl: Duration.minutes(5)
}

/**
 * Wraps a verify function as a verifier. Without `verifyPromise`, the promise form runs `verify`
 * in the default runtime and rejects with its `AuthError` (not a `FiberFailure`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (verify: Verifier["verify"], verifyPromise?: Verifier["verifyPromise"]): Verifier =>
  TokenVerifier.of({
    verify,
    verifyPromise: verifyPromise ??
      ((token) =>
        Effect.runPromise(Effect.either(verify(token))).then((result) =>
          result._tag === "Right" ? result.right : Promise.reject(result.left)
        ))
  })

/**
 * Verifies a token with the verifier in context.
 *
 * @since 0.1.0
 * @category accessors
 */
export const verify = (
  token: Redacted.Redacted<string>
): Effect.Effect<AccessToken.AccessToken, AuthError, TokenVerifier> =>
  Effect.flatMap(TokenVerifier, (verifier) => verifier.verify(token))

/**
 * Tries the verifiers in order and returns the first acceptance (FastMCP's multi-auth pattern:
 * an API key or a JWT). When every verifier refuses, fails with the most specific of their
 * errors (`AuthError.specificity`; on a tie, the earlier verifier's): a JWT that is expired is
 * reported as `expired`, not as the static verifier's `unknown token`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const firstOf = (...verifiers: readonly [Verifier, ...Array<Verifier>]): Verifier =>
  make((token) =>
    Effect.gen(function*() {
      let best: AuthError | undefined
      for (const verifier of verifiers) {
        const result = yield* Effect.either(verifier.verify(token))
        if (result._tag === "Right") return result.right
        if (best === undefined || specificity(result.left) > specificity(best)) best = result.left
      }
      return yield* Effect.fail(best ?? new MissingTokenError())
    })
  )

/**
 * Puts a bounded cache of verified tokens in front of a verifier. The key is the SHA-256 of the
 * token (the token itself is never kept as a key); a hit returns the earlier `AccessToken`
 * without any crypto or network. Time comes from the `Clock`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const cached = (self: Verifier, options?: CacheOptions): Effect.Effect<Verifier> =>
  Effect.sync(() => {
    const capacity = options?.capacity ?? defaultCacheOptions.capacity
    if (capacity <= 0) return self
    const maxTtl = Duration.toMillis(Duration.decode(options?.maxTtl ?? defaultCacheOptions.maxTtl))
    const lru = Lru.make<AccessToken.AccessToken>(capacity)
    const remember = (key: string, verified: AccessToken.AccessToken, after: number) => {
      const exp = verified.expiresAt === undefined ? Infinity : DateTime.toEpochMillis(verified.expiresAt)
      const until = Math.min(after + maxTtl, exp)
      if (until <= after) return
      // the cached token is every later request's: none of them may change what the next sees
      // (its scopes, subject, client id, expiry, claims)
      lockFields(verified)
      lru.set(key, verified, until)
    }
    // a hit is a digest and a map lookup: no generator, no fiber step beyond reading the clock
    return make(
      (token) =>
        Effect.clockWith((clock) => {
          const key = cacheKey(token)
          const hit = lru.get(key, clock.unsafeCurrentTimeMillis())
          if (hit !== undefined) return Effect.succeed(hit)
          return Effect.tap(self.verify(token), (verified) =>
            Effect.sync(() => remember(key, verified, clock.unsafeCurrentTimeMillis())))
        }),
      (token) => {
        const key = cacheKey(token)
        const hit = lru.get(key, Date.now())
        if (hit !== undefined) return Promise.resolve(hit)
        return self.verifyPromise(token).then((verified) => {
          remember(key, verified, Date.now())
          return verified
        })
      }
    )
  })

export const withCache = (options: CacheOptions | false | undefined) =>
<E, R>(self: Effect.Effect<Verifier, E, R>): Effect.Effect<Verifier, E, R> =>
  options === false ? self : Effect.flatMap(self, (verifier) => cached(verifier, options))

/**
 * A verifier layer that tries the verifiers built by the given layers in order (see `firstOf`).
 * Each layer is built on its own, so two layers that both provide `TokenVerifier` do not clash.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFirstOf = <const Layers extends readonly [Layer.Layer<TokenVerifier, any, any>, ...Array<Layer.Layer<TokenVerifier, any, any>>]>(
  ...layers: Layers
): Layer.Layer<TokenVerifier, Layer.Layer.Error<Layers[number]>, Layer.Layer.Context<Layers[number]>> =>
  Layer.scoped(
    TokenVerifier,
    Effect.gen(function*() {
      const verifiers: Array<Verifier> = []
      for (const layer of layers) {
        const context = yield* Layer.build(layer as Layer.Layer<TokenVerifier, unknown, unknown>)
        verifiers.push(Context.get(context, TokenVerifier))
      }
      return firstOf(...(verifiers as [Verifier, ...Array<Verifier>]))
    })
  ) as Layer.Layer<TokenVerifier, Layer.Layer.Error<Layers[number]>, Layer.Layer.Context<Layers[number]>>

/**
 * A verifier for tests: accepts exactly the given tokens with the given identities (client id
 * defaults to `"test-client"`, expiry to one hour after verification), refuses anything else
 * with `unknown token`. Not constant-time: use `StaticTokenVerifier` in production.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTest = (
  tokens: Readonly<
    Record<string, {
      readonly clientId?: string | undefined
      readonly subject?: string | undefined
      readonly scopes?: ReadonlyArray<string> | undefined
      readonly claims?: Readonly<Record<string, unknown>> | undefined
    }>
  >
): Layer.Layer<TokenVerifier> =>
  Layer.succeed(
    TokenVerifier,
    make((token) =>
      Effect.gen(function*() {
        const value = Redacted.value(token)
        if (value === "") return yield* new MissingTokenError()
        const entry = Object.prototype.hasOwnProperty.call(tokens, value) ? tokens[value] : undefined
        if (entry === undefined) return yield* new InvalidTokenError({ reason: "unknown token" })
        const now = yield* Clock.currentTimeMillis
        return AccessToken.make({
          token,
          clientId: entry.clientId ?? "test-client",
          subject: entry.subject,
          scopes: entry.scopes,
          expiresAt: DateTime.unsafeMake(now + 3_600_000),
          claims: entry.claims
        })
      })
    )
  )

/**
 * The cache key of a token: its SHA-256, hex-encoded.
 *
 * @since 0.1.0
 * @category utils
 */
export const cacheKey = (token: Redacted.Redacted<string>): string => sha256Hex(Redacted.value(token))

// `crypto.hash` (Node ≥ 20.12) digests in one call, about half the time of a `Hash` object for a
// JWT-sized input; this is on every cache hit
const sha256Hex: (value: string) => string = typeof (Crypto as { hash?: unknown }).hash === "function"
  ? (value) => Crypto.hash("sha256", value, "hex")
  : (value) => Crypto.createHash("sha256").update(value, "utf8").digest("hex")

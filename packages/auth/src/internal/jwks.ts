/**
 * Key sets for JWS verification: a fixed set, or a remote JWKS fetched over HTTP, cached,
 * fetched single-flight, refetched on an unknown `kid` at most once per cooldown (so rotation is
 * picked up and random `kid`s cannot hammer the issuer), refreshed after `maxAge` (keeping the old
 * set if the refresh fails), each fetch bounded by a timeout and a size limit. After a failed fetch
 * nothing is fetched again for `min(cooldown, 5 s)`: meanwhile a stale set keeps serving, and
 * without any set the verification fails at once with the last error instead of waiting on the
 * endpoint again.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as jose from "jose"
import { AuthConfigError, type InvalidTokenError, JwksFetchError } from "../AuthError.js"
import * as Http from "./http.js"
import { invalid, reasonOf } from "./jose.js"

export interface KeySet {
  readonly resolve: (
    header: jose.ProtectedHeaderParameters
  ) => Effect.Effect<jose.CryptoKey, InvalidTokenError | JwksFetchError>
}

export interface RemoteOptions {
  readonly timeout?: Duration.DurationInput | undefined
  readonly cooldown?: Duration.DurationInput | undefined
  readonly maxAge?: Duration.DurationInput | undefined
  readonly maxSize?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly fetch?: Http.Fetch | undefined
}

interface Loaded {
  readonly get: jose.LocalJWKSet
  readonly count: number
  readonly fetchedAt: number
  /** RSA keys under 2048 bits, left out of the set (`jose` verifies nothing with them). */
  readonly weak: number
}

/**
 * An RSA JWK whose modulus is under 2048 bits: `jose` refuses to verify with it, so every token
 * it signed would be refused as `malformed`.
 */
const isWeakRsaJwk = (jwk: object): boolean => {
  const { kty, n } = jwk as { kty?: unknown; n?: unknown }
  if (kty !== "RSA" || typeof n !== "string") return false
  const bytes = Buffer.from(n, "base64url")
  let i = 0
  while (i < bytes.length && bytes[i] === 0) i++
  const bits = i === bytes.length ? 0 : (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i]!))
  return bits < 2048
}

/**
 * A key set with private or symmetric members (`d`, `k`) is refused whole: it was published by
 * mistake. RSA keys under 2048 bits are left out (and counted in `weak`).
 */
const load = (jwks: unknown): Loaded | undefined => {
  try {
    const keys = (jwks as { keys?: unknown }).keys
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== "object" || k === null || "d" in k || "k" in k)) {
      return undefined
    }
    const usable = (keys as Array<object>).filter((k) => !isWeakRsaJwk(k))
    const get = jose.createLocalJWKSet({ ...(jwks as jose.JSONWebKeySet), keys: usable as Array<jose.JWK> })
    return { get, count: usable.length, fetchedAt: 0, weak: keys.length - usable.length }
  } catch {
    return undefined
  }
}

const resolveIn = (
  loaded: Loaded,
  header: jose.ProtectedHeaderParameters
): Effect.Effect<jose.CryptoKey, InvalidTokenError> => {
  if (header.kid === undefined && loaded.count > 1) return Effect.fail(invalid("key id required"))
  if (header.kid !== undefined && typeof header.kid !== "string") return Effect.fail(invalid("malformed"))
  return Effect.tryPromise({
    try: () => loaded.get(header),
    catch: (e) => invalid(reasonOf(e))
  })
}

export const local = (jwks: jose.JSONWebKeySet): Effect.Effect<KeySet, AuthConfigError> =>
  Effect.suspend(() => {
    const loaded = load(jwks)
    if (loaded === undefined || loaded.count + loaded.weak === 0) {
      return Effect.fail(new AuthConfigError({ field: "jwks", reason: "not a public JSON Web Key Set with at least one key" }))
    }
    if (loaded.weak > 0) {
      return Effect.fail(new AuthConfigError({ field: "jwks", reason: "holds an RSA key under 2048 bits, which cannot verify tokens" }))
    }
    return Effect.succeed({ resolve: (header) => resolveIn(loaded, header) })
  })

export const remote = (uri: string, options: RemoteOptions = {}): Effect.Effect<KeySet> =>
  Effect.gen(function*() {
    const timeout = options.timeout ?? Duration.seconds(5)
    const cooldown = Duration.toMillis(Duration.decode(options.cooldown ?? Duration.seconds(30)))
    const maxAge = Duration.toMillis(Duration.decode(options.maxAge ?? Duration.minutes(10)))
    const maxSize = options.maxSize ?? 1024 * 1024
    const semaphore = yield* Effect.makeSemaphore(1)

    let current: Loaded | undefined
    let attempts = 0
    let lastAttemptAt = -Infinity
    let lastError: JwksFetchError | undefined

    const fetchOnce: Effect.Effect<Loaded, JwksFetchError> = Http.request({
      url: uri,
      method: "GET",
      headers: Http.mergeHeaders({ accept: "application/json, application/jwk-set+json" }, options.headers),
      timeout,
      maxBytes: maxSize,
      fetch: options.fetch
    }).pipe(
      Effect.mapError((f) => new JwksFetchError({ reason: f._tag })),
      Effect.flatMap((res) => {
        if (res.status !== 200) return Effect.fail(new JwksFetchError({ reason: "http status", status: res.status }))
        const loaded = load(Http.parseJson(res.body))
        if (loaded === undefined) return Effect.fail(new JwksFetchError({ reason: "invalid key set" }))
        // a weak key is skipped, not fatal: the issuer's other keys keep working
        const said = loaded.weak === 0
          ? Effect.void
          : Effect.logWarning(`JWKS: skipped ${loaded.weak} RSA key(s) under 2048 bits, which cannot verify tokens`)
        return Effect.zipRight(said, Effect.map(Clock.currentTimeMillis, (now) => ({ ...loaded, fetchedAt: now })))
      })
    )

    // Single flight: whoever waited on the permit while another fiber fetched reuses that result.
    const refresh = (seen: number): Effect.Effect<Loaded, JwksFetchError> =>
      semaphore.withPermits(1)(
        Effect.suspend(() => {
          if (attempts !== seen) {
            if (lastError === undefined && current !== undefined) return Effect.succeed(current)
            return Effect.fail(lastError ?? new JwksFetchError({ reason: "network" }))
          }
          return fetchOnce.pipe(
            Effect.tap((loaded) =>
              Effect.sync(() => {
                current = loaded
                lastError = undefined
              })
            ),
            Effect.tapError((e) =>
              Effect.sync(() => {
                lastError = e
              })
            ),
            // a fetch whose caller was interrupted did not finish: the fibers waiting on the permit
            // fetch themselves (counted, it would hand them "network" or the old set, and start the cooldown)
            Effect.onExit((exit) =>
              Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)
                ? Effect.void
                : Effect.flatMap(Clock.currentTimeMillis, (now) =>
                  Effect.sync(() => {
                    attempts++
                    lastAttemptAt = now
                  }))
            )
          )
        })
      )

    // after a failed fetch, back off: a down or hanging endpoint must not cost every request a
    // fetch (and its timeout)
    const failureBackoff = Math.min(cooldown, 5_000)
    const backingOff = (now: number) => lastError !== undefined && now - lastAttemptAt < failureBackoff

    const resolve = (header: jose.ProtectedHeaderParameters) =>
      Effect.gen(function*() {
        const seen = attempts
        const now = yield* Clock.currentTimeMillis
        let loaded = current
        if (loaded === undefined) {
          if (backingOff(now)) return yield* lastError!
          loaded = yield* refresh(seen)
        } else if (now - loaded.fetchedAt >= maxAge && !backingOff(now)) {
          const stale = loaded
          loaded = yield* refresh(seen).pipe(
            Effect.catchAll((e) =>
              Effect.as(Effect.logWarning(`JWKS refresh failed (${e.reason}); using the previous key set`), stale)
            )
          )
        }
        const first = yield* Effect.either(resolveIn(loaded, header))
        if (first._tag === "Right") return first.right
        if (first.left.reason !== "unknown key id") return yield* first.left
        const at = yield* Clock.currentTimeMillis
        if (at - lastAttemptAt < cooldown) return yield* first.left
        const refreshed = yield* refresh(seen)
        return yield* resolveIn(refreshed, header)
      })

    return { resolve }
  })

/**
 * The key set of an issuer, found by discovery on first use: `jwks_uri` from its OpenID
 * configuration (`<issuer>/.well-known/openid-configuration`), else its RFC 8414 metadata
 * (`/.well-known/oauth-authorization-server<path>`), which must name the same issuer; then the
 * remote key set as `remote`. A failed discovery fails the verification with `JwksFetchError`
 * (the authenticator answers 503) and is retried after 5 s at the earliest.
 */
export const discovered = (issuer: string, options: RemoteOptions = {}): Effect.Effect<KeySet> =>
  Effect.gen(function*() {
    const semaphore = yield* Effect.makeSemaphore(1)
    const timeout = options.timeout ?? Duration.seconds(5)
    const base = new URL(issuer)
    const path = base.pathname.replace(/\/$/, "")
    const candidates = [
      `${base.origin}${path}/.well-known/openid-configuration`,
      `${base.origin}/.well-known/oauth-authorization-server${path}`
    ]
    const sameIssuer = (named: unknown) => typeof named === "string" && named.replace(/\/$/, "") === issuer.replace(/\/$/, "")
    let set: KeySet | undefined
    let failedAt = -Infinity
    let lastError: JwksFetchError | undefined

    const fetchMetadata = (url: string) =>
      Http.request({
        url,
        method: "GET",
        headers: Http.mergeHeaders({ accept: "application/json" }, options.headers),
        timeout,
        maxBytes: options.maxSize ?? 1024 * 1024,
        fetch: options.fetch
      }).pipe(Effect.mapError((f) => new JwksFetchError({ reason: f._tag })))

    const discover: Effect.Effect<KeySet, JwksFetchError> = Effect.gen(function*() {
      let error = new JwksFetchError({ reason: "discovery" })
      let unusable = false
      for (const url of candidates) {
        const res = yield* Effect.either(fetchMetadata(url))
        if (res._tag === "Left") {
          error = res.left
          continue
        }
        if (res.right.status !== 200) {
          error = new JwksFetchError({ reason: "http status", status: res.right.status })
          continue
        }
        const parsed = Http.parseJson(res.right.body)
        // metadata that is no JSON object (`null`, an array, a string), for another issuer, or
        // without a usable jwks_uri, is not this issuer's
        const doc = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
          ? parsed as { issuer?: unknown; jwks_uri?: unknown }
          : undefined
        if (doc === undefined || !sameIssuer(doc.issuer) || typeof doc.jwks_uri !== "string") {
          unusable = true
          continue
        }
        let jwksUri: URL
        try {
          jwksUri = new URL(doc.jwks_uri)
        } catch {
          unusable = true
          continue
        }
        if (jwksUri.protocol !== "https:" && jwksUri.protocol !== "http:") {
          unusable = true
          continue
        }
        // as for a configured jwksUri: allowed (cluster-internal names), but said
        if (Http.isPlainHttpOffHost(jwksUri)) {
          yield* Effect.logWarning(
            "JwtVerifier: the discovered jwks_uri is plain http to a non-loopback host; the signing keys can be replaced in transit: use https"
          )
        }
        return yield* remote(jwksUri.href, options)
      }
      // a document that was not this issuer's says more than the other place's 404
      return yield* (unusable ? new JwksFetchError({ reason: "discovery" }) : error)
    })

    // single flight; after a failure nothing is fetched again for 5 s (the last error answers)
    const keySet = semaphore.withPermits(1)(
      Effect.gen(function*() {
        if (set !== undefined) return set
        const now = yield* Clock.currentTimeMillis
        if (lastError !== undefined && now - failedAt < 5_000) return yield* lastError
        const found = yield* discover.pipe(
          Effect.tapError((e) =>
            Effect.flatMap(Clock.currentTimeMillis, (at) =>
              Effect.sync(() => {
                lastError = e
                failedAt = at
              }))
          )
        )
        set = found
        return found
      })
    )
    return {
      resolve: (header) => set !== undefined ? set.resolve(header) : Effect.flatMap(keySet, (s) => s.resolve(header))
    }
  })

/**
 * Verifies opaque bearer tokens by asking the authorization server (RFC 7662 token
 * introspection; the seed's `RemoteAuthProvider`): a form POST of `token` and `token_type_hint`,
 * authenticated as a client (`client_secret_basic` or `client_secret_post`). `active: false` is a
 * refusal (`inactive`); a failing endpoint is an `IntrospectionError`. Answers are cached until the
 * token's `exp` and never longer than `cache.maxTtl` (60 s by default, so a revocation is seen
 * within a minute).
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
import * as AccessToken from "./AccessToken.js"
import * as ClientAssertion from "./ClientAssertion.js"
import { AuthConfigError, IntrospectionError, InvalidTokenError, MissingTokenError } from "./AuthError.js"
import * as Http from "./internal/http.js"
import * as Jose from "./internal/jose.js"
import * as TokenVerifier from "./TokenVerifier.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The introspection endpoint (`introspection_endpoint` of the server's metadata). */
  readonly endpoint: string | URL
  readonly clientId?: string | undefined
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  /**
   * How the resource server authenticates to the endpoint. Default `client_secret_basic` when a
   * secret is given, `private_key_jwt` when a `privateKey` is (RFC 7523: a signed assertion per
   * request, see `ClientAssertion`), else `none` (only `client_id` in the body, if given).
   */
  readonly clientAuthMethod?: "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none" | undefined
  /** `private_key_jwt`: the client's private key, a PKCS#8 PEM or a private JWK as JSON (RSA, EC, Ed25519). */
  readonly privateKey?: Redacted.Redacted<string> | undefined
  /** `private_key_jwt`: the signing algorithm; default from the key (RS256, ES256/384/512, EdDSA). */
  readonly privateKeyAlg?: string | undefined
  /** `private_key_jwt`: the assertion header's `kid`; default the JWK's `kid`, if any. */
  readonly privateKeyId?: string | undefined
  /** `private_key_jwt`: the assertion's `aud`; default the introspection endpoint's URL. */
  readonly assertionAudience?: string | undefined
  /** Sent as `token_type_hint`. Default `"access_token"`; `false` sends none. */
  readonly tokenTypeHint?: string | false | undefined
  /** Per request. Default 10 s (the seed's). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Accepted `iss` value(s); when set, the response must carry a matching `iss`. */
  readonly issuer?: string | ReadonlyArray<string> | undefined
  /**
   * Accepted `aud` value(s), normally the MCP server's own resource URL; when set, the response
   * must carry a matching `aud` (RFC 8707: the MCP spec forbids accepting tokens minted for another
   * resource). Unset, any audience is accepted and a warning is logged when the verifier is built;
   * `false` accepts any audience knowingly, without the warning.
   */
  readonly audience?: string | ReadonlyArray<string> | false | undefined
  /**
   * Extra request headers (the seed's `headers`). `content-type`, `accept` and, under
   * `client_secret_basic`, `authorization` are the verifier's own and replace one given here,
   * whatever its case.
   */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Largest accepted response body in bytes. Default 64 KiB. */
  readonly maxResponseSize?: number | undefined
  /** Tokens longer than this many bytes are refused without asking. Default 16 KiB. */
  readonly maxTokenSize?: number | undefined
  readonly fetch?: Http.Fetch | undefined
  /** The verified-token cache; default `maxTtl` 60 s here. `false` turns it off. */
  readonly cache?: TokenVerifier.CacheOptions | false | undefined
}

/**
 * How long an introspection answer is reused at most: 60 seconds.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultCacheMaxTtl: Duration.Duration = Duration.seconds(60)

/**
 * Builds a verifier (without the cache; the layers add it). Fails with `AuthConfigError` on a bad
 * endpoint URL or a client authentication method without its credentials.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<TokenVerifier.Verifier, AuthConfigError> =>
  Effect.gen(function*() {
    const endpoint = yield* Effect.try({
      try: () => new URL(String(options.endpoint)),
      catch: () => new AuthConfigError({ field: "endpoint", reason: "not a URL" })
    })
    if (endpoint.protocol !== "https:" && endpoint.protocol !== "http:") {
      return yield* new AuthConfigError({ field: "endpoint", reason: "not an http(s) URL" })
    }
    if (Http.isPlainHttpOffHost(endpoint)) {
      // allowed (a cluster-internal name is common); RFC 7662 §4 requires TLS
      yield* Effect.logWarning(
        "IntrospectionVerifier: endpoint is plain http to a non-loopback host; tokens and the client secret cross the network unencrypted: use https"
      )
    }
    const method = ClientAssertion.clientAuthMethod(options)
    if (method === "ambiguous") {
      return yield* new AuthConfigError({ field: "clientAuthMethod", reason: "is required with both a clientSecret and a privateKey" })
    }
    let assertionKey: ClientAssertion.SigningKey | undefined
    if (method === "private_key_jwt") {
      if (options.clientId === undefined || options.privateKey === undefined) {
        return yield* new AuthConfigError({ field: "clientAuthMethod", reason: "private_key_jwt needs clientId and privateKey" })
      }
      // parsed and signed with once: a key that cannot sign is found here, not on the first request
      assertionKey = yield* Effect.mapError(
        ClientAssertion.check(options.privateKey, options.privateKeyAlg),
        (problem) =>
          new AuthConfigError({ field: problem === "alg" ? "privateKeyAlg" : "privateKey", reason: ClientAssertion.problemMessage(problem) })
      )
    } else if (method !== "none" && (options.clientId === undefined || options.clientSecret === undefined)) {
      return yield* new AuthConfigError({ field: "clientAuthMethod", reason: `${method} needs clientId and clientSecret` })
    }
    const hint = options.tokenTypeHint === undefined ? "access_token" : options.tokenTypeHint
    const timeout = options.timeout ?? Duration.seconds(10)
    const maxBytes = options.maxResponseSize ?? 64 * 1024
    const maxTokenSize = options.maxTokenSize ?? Jose.defaultMaxTokenSize
    const issuer = options.issuer === undefined ? undefined : [options.issuer].flat()
    const audience = options.audience === undefined || options.audience === false ? undefined : [options.audience].flat()
    if (options.audience === undefined) {
      yield* Effect.logWarning(
        "IntrospectionVerifier: no audience is set, so tokens minted for any resource are accepted; set audience to this server's resource URL (or false to accept any, knowingly)"
      )
    }

    const failure = (reason: IntrospectionError["reason"], status?: number) =>
      new IntrospectionError(status === undefined ? { reason } : { reason, status })

    return TokenVerifier.make((token) =>
      Effect.gen(function*() {
        const value = Redacted.value(token)
        if (value === "") return yield* new MissingTokenError()
        if (Buffer.byteLength(value, "utf8") > maxTokenSize) return yield* new InvalidTokenError({ reason: "too large" })

        const form = new URLSearchParams({ token: value })
        if (hint !== false) form.set("token_type_hint", hint)
        // the verifier's own headers replace the caller's of the same name, in any case
        const headers = Http.mergeHeaders(options.headers, {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json"
        })
        if (method === "client_secret_basic") {
          // RFC 6749 §2.3.1: both parts form-urlencoded before base64
          const id = formEncode(options.clientId!)
          const secret = formEncode(Redacted.value(options.clientSecret!))
          headers.authorization = `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`
        } else if (method === "client_secret_post") {
          form.set("client_id", options.clientId!)
          form.set("client_secret", Redacted.value(options.clientSecret!))
        } else if (assertionKey !== undefined) {
          const key = assertionKey
          const assertion = yield* Effect.tryPromise({
            try: () =>
              ClientAssertion.sign(key, {
                clientId: options.clientId!,
                audience: options.assertionAudience ?? endpoint.href,
                kid: options.privateKeyId ?? key.kid
              }),
            catch: () => failure("network")
          })
          form.set("client_id", options.clientId!)
          form.set("client_assertion_type", ClientAssertion.assertionType)
          form.set("client_assertion", assertion)
        } else if (options.clientId !== undefined) {
          form.set("client_id", options.clientId)
        }

        const res = yield* Http.request({
          url: endpoint.href,
          method: "POST",
          headers,
          body: form.toString(),
          timeout,
          maxBytes,
          fetch: options.fetch
        }).pipe(Effect.mapError((f) => failure(f._tag)))
        if (res.status !== 200) return yield* failure("http status", res.status)
        const body = Http.parseJson(res.body)
        if (typeof body !== "object" || body === null || Array.isArray(body)) return yield* failure("invalid response")
        const claims = body as Record<string, unknown>
        if (typeof claims.active !== "boolean") return yield* failure("invalid response")
        if (!claims.active) return yield* new InvalidTokenError({ reason: "inactive" })
        // many servers answer `active: true` for a refresh or ID token presented here: only an
        // access token may call the MCP server
        if (!isAccessToken(claims)) return yield* new InvalidTokenError({ reason: "not an access token" })

        const now = yield* Clock.currentTimeMillis
        const timeProblem = Jose.timeClaimsProblem(claims)
        if (timeProblem !== undefined) return yield* timeProblem
        if (typeof claims.exp === "number" && claims.exp * 1000 <= now) {
          return yield* new InvalidTokenError({ reason: "expired" })
        }
        if (typeof claims.nbf === "number" && claims.nbf * 1000 > now) {
          return yield* new InvalidTokenError({ reason: "not yet valid" })
        }
        if (issuer !== undefined && !(typeof claims.iss === "string" && issuer.includes(claims.iss))) {
          return yield* new InvalidTokenError({ reason: "wrong issuer" })
        }
        if (audience !== undefined) {
          const aud = typeof claims.aud === "string" ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : []
          if (!aud.some((a) => typeof a === "string" && audience.includes(a))) {
            return yield* new InvalidTokenError({ reason: "wrong audience" })
          }
        }
        return AccessToken.fromClaims(token, claims)
      })
    )
  })

/**
 * Whether an active introspection answer may describe an access token. A server that says
 * otherwise is believed: `token_type` (RFC 7662; `refresh_token` at some servers), `token_use`
 * (Ory Hydra, Amazon Cognito: `access_token` / `access`) and `typ` (Keycloak: `Bearer`, `Refresh`,
 * `Offline`, `ID`) naming a refresh, offline or ID token refuse it. An answer that says nothing
 * of the kind is accepted (set `audience`: a refresh token carries none at most servers).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAccessToken = (claims: Readonly<Record<string, unknown>>): boolean => {
  for (const field of ["token_type", "token_use", "typ"]) {
    const value = claims[field]
    // also the token-exchange URNs (urn:ietf:params:oauth:token-type:refresh_token, …:id_token)
    if (typeof value === "string" && /refresh|offline|^id$|(^|:)id_token$/i.test(value.trim())) return false
  }
  return true
}

/**
 * The verifier as a layer, with the verified-token cache (60 s at most per answer) unless
 * `cache: false`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError> =>
  Layer.effect(TokenVerifier.TokenVerifier, make(options).pipe(TokenVerifier.withCache(cacheOptions(options.cache))))

/**
 * `layer` with options read from `Config` (the client secret through `Config.redacted`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<TokenVerifier.TokenVerifier, AuthConfigError | ConfigError.ConfigError> =>
  Layer.effect(
    TokenVerifier.TokenVerifier,
    Effect.flatMap(Config.unwrap(options), (o) => make(o).pipe(TokenVerifier.withCache(cacheOptions(o.cache))))
  )

const cacheOptions = (cache: Options["cache"]): TokenVerifier.CacheOptions | false =>
  cache === false ? false : { ...cache, maxTtl: cache?.maxTtl ?? defaultCacheMaxTtl }

const formEncode = (s: string): string => new URLSearchParams({ x: s }).toString().slice(2)

/**
 * A downstream OAuth provider (GitHub, Google, Jira, any OpenID provider): its endpoints (given,
 * or found by OIDC / RFC 8414 discovery), the client id and `Redacted` secret, scopes and extra
 * authorize parameters; and the protocol steps built on it: PKCE (S256) and `state`, the
 * authorize URL, the code exchange, refresh, client credentials and token exchange (RFC 8693).
 * Tokens come back `Redacted`; errors name the provider, grant and OAuth error code, never a
 * token, code, verifier or state.
 *
 * @since 0.1.0
 */
import { ClientAssertion } from "@mcp-credentials/auth"
import { ResolvedCredential } from "@mcp-credentials/core"
import * as Scrubber from "@mcp-credentials/server/Scrubber"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as crypto from "node:crypto"
import { type Fetch, isHttpUrl, parseObject, request } from "./internal/oauthHttp.js"
import {
  type Grant,
  OAuthConfigError,
  OAuthDiscoveryError,
  OAuthRequestError,
  OAuthTokenError,
  type TokenRequestError
} from "./OAuthProviderError.js"

/**
 * How the client authenticates at the token endpoint: HTTP Basic (the default when there is a
 * secret), the secret in the form body, a JWT signed with the client's private key
 * (`private_key_jwt`, RFC 7523; the default when there is a `privateKey`), or not at all (a
 * public client, with PKCE).
 *
 * @since 0.1.0
 * @category models
 */
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none"

/**
 * A provider, ready to use. `name` is also the provider part of the vault's `StoreKey`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthProvider {
  readonly name: string
  readonly issuer: string | undefined
  readonly authorizationEndpoint: string | undefined
  readonly tokenEndpoint: string
  /** RFC 7009: where `revoke` sends tokens back (`undefined`: the provider has none). */
  readonly revocationEndpoint: string | undefined
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string> | undefined
  readonly clientAuthMethod: ClientAuthMethod
  /** `private_key_jwt`: the client's private key (PKCS#8 PEM or a private JWK as JSON). */
  readonly privateKey?: Redacted.Redacted<string> | undefined
  /** `private_key_jwt`: the signing algorithm (checked against the key when built). */
  readonly privateKeyAlg?: string | undefined
  /** `private_key_jwt`: the `kid` of the assertion's header (default the JWK's `kid`, if any). */
  readonly privateKeyId?: string | undefined
  /** `private_key_jwt`: the assertion's `aud`; default the token endpoint URL (RFC 7523). */
  readonly assertionAudience?: string | undefined
  /** `private_key_jwt`: the key's X.509 certificate (PEM); its thumbprints go in the header (`x5t`, `x5t#S256`). */
  readonly privateKeyCertificate?: string | undefined
  readonly scopes: ReadonlyArray<string>
  readonly extraAuthorizeParams: Readonly<Record<string, string>>
  readonly timeout: Duration.Duration
  readonly fetch: Fetch | undefined
}

/**
 * Options of `make`. Give `issuer` for discovery, or the endpoints (given endpoints win over
 * discovered ones). `timeout` bounds each HTTP request (default 15 s).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly name: string
  readonly issuer?: string | undefined
  readonly authorizationEndpoint?: string | undefined
  readonly tokenEndpoint?: string | undefined
  /** RFC 7009 revocation endpoint; default the issuer's `revocation_endpoint` when discovery runs. */
  readonly revocationEndpoint?: string | undefined
  readonly clientId: string
  readonly clientSecret?: Redacted.Redacted<string> | undefined
  readonly clientAuthMethod?: ClientAuthMethod | undefined
  /**
   * `private_key_jwt` (RFC 7523): the client's private key, a PKCS#8 PEM (`-----BEGIN PRIVATE
   * KEY-----`) or a private JWK as JSON — RSA, EC P-256/384/521 or Ed25519. Each token
   * request then carries a fresh assertion (`iss` = `sub` = the client id, `aud`, `jti`, `iat`,
   * `exp` in 60 s) instead of a secret.
   */
  readonly privateKey?: Redacted.Redacted<string> | undefined
  /** Default from the key: RS256 (RSA; PS256–PS512 if asked), ES256/ES384/ES512 (EC), EdDSA (Ed25519). */
  readonly privateKeyAlg?: string | undefined
  /** The `kid` of the assertion's header; default the JWK's `kid`, if any. */
  readonly privateKeyId?: string | undefined
  /** The assertion's `aud`; default the token endpoint URL. Some providers want their issuer. */
  readonly assertionAudience?: string | undefined
  /**
   * The key's X.509 certificate (PEM, not secret): its SHA-1 and SHA-256 thumbprints go in each
   * assertion's header (`x5t`, `x5t#S256`), as Entra ID requires of a certificate credential.
   * Checked against the key when built.
   */
  readonly privateKeyCertificate?: string | undefined
  readonly scopes?: ReadonlyArray<string> | undefined
  readonly extraAuthorizeParams?: Readonly<Record<string, string>> | undefined
  readonly timeout?: Duration.DurationInput | undefined
  /** A `fetch` to use instead of the global one (a proxy, a test double). */
  readonly fetch?: Fetch | undefined
}

/**
 * A token endpoint's successful answer. `expiresIn` is in seconds; `scopes` is the granted scope
 * when the provider says (otherwise the requested one).
 *
 * @since 0.1.0
 * @category models
 */
export interface TokenResponse {
  readonly accessToken: Redacted.Redacted<string>
  readonly tokenType: string
  readonly refreshToken: Redacted.Redacted<string> | undefined
  readonly expiresIn: number | undefined
  readonly scopes: ReadonlyArray<string> | undefined
  readonly idToken: Redacted.Redacted<string> | undefined
  /** RFC 8693: the type of the token a token exchange issued (`issued_token_type`), when the provider says. */
  readonly issuedTokenType?: string | undefined
}

/**
 * A PKCE pair (RFC 7636, S256). Keep the verifier server-side with the pending authorization;
 * only the challenge goes into the authorize URL.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pkce {
  readonly verifier: Redacted.Redacted<string>
  readonly challenge: string
  readonly method: "S256"
}

/**
 * The default timeout of a request to the provider.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(15)

/**
 * Builds a provider. With `issuer` and a missing endpoint, fetches the issuer's metadata
 * (`/.well-known/openid-configuration`, then RFC 8414 `/.well-known/oauth-authorization-server`)
 * and checks that it names the same issuer. Fails with `OAuthConfigError` for unusable options
 * and `OAuthDiscoveryError` when discovery fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<OAuthProvider, OAuthConfigError | OAuthDiscoveryError> =>
  Effect.gen(function*() {
    const name = options.name
    const config = (field: string, reason: string) => new OAuthConfigError({ provider: name, field, reason })
    if (name.trim() === "") return yield* config("name", "must not be empty")
    if (options.clientId.trim() === "") return yield* config("clientId", "must not be empty")
    const method = ClientAssertion.clientAuthMethod(options)
    if (method === "ambiguous") {
      return yield* config("clientAuthMethod", "is required with both a clientSecret and a privateKey (which one authenticates?)")
    }
    let signing: { readonly alg: string; readonly kid: string | undefined } | undefined
    if (method === "private_key_jwt") {
      if (options.privateKey === undefined) return yield* config("privateKey", "is required for private_key_jwt")
      // parsed and signed with once: what only signing tells (an RSA key under 2048 bits) is found now
      const key = yield* Effect.mapError(
        ClientAssertion.check(options.privateKey, options.privateKeyAlg),
        (problem) => config(problem === "alg" ? "privateKeyAlg" : "privateKey", ClientAssertion.problemMessage(problem))
      )
      if (options.privateKeyCertificate !== undefined) {
        const checked = ClientAssertion.thumbprints(options.privateKeyCertificate, key)
        if (checked === "certificate") return yield* config("privateKeyCertificate", "is not a PEM X.509 certificate")
        if (checked === "mismatch") return yield* config("privateKeyCertificate", "does not certify privateKey")
      }
      signing = { alg: key.alg, kid: options.privateKeyId ?? key.kid }
    } else if (method !== "none" && options.clientSecret === undefined) {
      return yield* config("clientSecret", `is required for ${method}`)
    }
    const timeout = Duration.decode(options.timeout ?? defaultTimeout)
    let authorizationEndpoint = options.authorizationEndpoint
    let tokenEndpoint = options.tokenEndpoint
    let revocationEndpoint = options.revocationEndpoint
    if (options.issuer !== undefined && (authorizationEndpoint === undefined || tokenEndpoint === undefined)) {
      const metadata = yield* discover(name, options.issuer, timeout, options.fetch)
      authorizationEndpoint ??= metadata.authorizationEndpoint
      tokenEndpoint ??= metadata.tokenEndpoint
      revocationEndpoint ??= metadata.revocationEndpoint
    }
    if (tokenEndpoint === undefined) return yield* config("tokenEndpoint", "is required (or give an issuer)")
    for (
      const [field, url] of [
        ["tokenEndpoint", tokenEndpoint],
        ["authorizationEndpoint", authorizationEndpoint],
        ["revocationEndpoint", revocationEndpoint]
      ] as const
    ) {
      if (url !== undefined && !isHttpUrl(url)) return yield* config(field, "is not an http(s) URL")
    }
    return {
      name,
      issuer: options.issuer,
      authorizationEndpoint,
      tokenEndpoint,
      revocationEndpoint,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      clientAuthMethod: method,
      ...(signing === undefined ? {} : {
        privateKey: options.privateKey,
        privateKeyAlg: signing.alg,
        privateKeyId: signing.kid,
        assertionAudience: options.assertionAudience,
        privateKeyCertificate: options.privateKeyCertificate
      }),
      scopes: options.scopes ?? [],
      extraAuthorizeParams: options.extraAuthorizeParams ?? {},
      timeout,
      fetch: options.fetch
    }
  })

/**
 * `make` with the options read from `Config` (the application picks the variable names), e.g.
 * `{ name: Config.succeed("github"), clientId: Config.string("GITHUB_CLIENT_ID"),
 * clientSecret: Config.redacted("GITHUB_CLIENT_SECRET"), issuer: Config.succeed(undefined), … }`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeConfig = (
  options: Config.Config.Wrap<Omit<Options, "fetch">>
): Effect.Effect<OAuthProvider, OAuthConfigError | OAuthDiscoveryError | ConfigError.ConfigError> =>
  Effect.flatMap(Config.unwrap(options), make)

/**
 * A fresh PKCE pair: a 43-character verifier from 32 random bytes and its S256 challenge.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makePkce: Effect.Effect<Pkce> = Effect.sync(() => {
  const verifier = crypto.randomBytes(32).toString("base64url")
  return { verifier: Redacted.make(verifier), challenge: pkceChallenge(verifier), method: "S256" }
})

/**
 * The S256 challenge of a verifier: `BASE64URL(SHA256(verifier))`.
 *
 * @since 0.1.0
 * @category utils
 */
export const pkceChallenge = (verifier: string | Redacted.Redacted<string>): string =>
  crypto.createHash("sha256").update(typeof verifier === "string" ? verifier : Redacted.value(verifier), "ascii")
    .digest("base64url")

/**
 * A fresh `state`: 32 random bytes, base64url. Single-use: bind it to the pending authorization
 * (user, browser session, PKCE verifier) and delete it when the callback arrives.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeState: Effect.Effect<Redacted.Redacted<string>> = Effect.sync(() =>
  Redacted.make(crypto.randomBytes(32).toString("base64url"))
)

/**
 * Compares a `state` received on the callback with the expected one in constant time.
 *
 * @since 0.1.0
 * @category utils
 */
export const stateMatches = (
  expected: Redacted.Redacted<string>,
  received: string | Redacted.Redacted<string>
): boolean => {
  const digest = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest()
  const r = typeof received === "string" ? received : Redacted.value(received)
  return crypto.timingSafeEqual(digest(Redacted.value(expected)), digest(r))
}

/**
 * The authorize URL to send the browser to. Extra parameters come first (the provider's, then
 * these), and the standard ones always win: `response_type=code`, `client_id`, `redirect_uri`,
 * `scope`, `state`, `code_challenge`, `code_challenge_method=S256`. A query already in the
 * endpoint is kept. The URL carries the `state`: never log it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const authorizationUrl = (
  provider: OAuthProvider,
  params: {
    readonly redirectUri: string
    readonly state: Redacted.Redacted<string>
    readonly pkce: Pkce
    readonly scopes?: ReadonlyArray<string> | undefined
    readonly extraParams?: Readonly<Record<string, string>> | undefined
  }
): Effect.Effect<URL, OAuthConfigError> =>
  Effect.suspend(() => {
    if (provider.authorizationEndpoint === undefined) {
      return new OAuthConfigError({
        provider: provider.name,
        field: "authorizationEndpoint",
        reason: "is required for the authorization code flow"
      })
    }
    const url = new URL(provider.authorizationEndpoint)
    for (const [k, v] of Object.entries({ ...provider.extraAuthorizeParams, ...params.extraParams })) {
      url.searchParams.set(k, v)
    }
    const scopes = params.scopes ?? provider.scopes
    url.searchParams.set("response_type", "code")
    url.searchParams.set("client_id", provider.clientId)
    url.searchParams.set("redirect_uri", params.redirectUri)
    if (scopes.length > 0) url.searchParams.set("scope", scopes.join(" "))
    else url.searchParams.delete("scope")
    url.searchParams.set("state", Redacted.value(params.state))
    url.searchParams.set("code_challenge", params.pkce.challenge)
    url.searchParams.set("code_challenge_method", "S256")
    return Effect.succeed(url)
  })

/**
 * Exchanges an authorization code (with its PKCE verifier and the same `redirect_uri`).
 *
 * @since 0.1.0
 * @category token requests
 */
export const exchangeCode = (
  provider: OAuthProvider,
  params: {
    readonly code: Redacted.Redacted<string>
    readonly redirectUri: string
    readonly codeVerifier: Redacted.Redacted<string>
  }
): Effect.Effect<TokenResponse, TokenRequestError> =>
  tokenRequest(provider, "authorization_code", {
    code: params.code,
    redirect_uri: params.redirectUri,
    code_verifier: params.codeVerifier
  })

/**
 * Redeems a refresh token. A provider that rotates refresh tokens returns a new one and
 * invalidates this one: redeem each refresh token once (`TokenRefresh` makes sure of it).
 *
 * @since 0.1.0
 * @category token requests
 */
export const refresh = (
  provider: OAuthProvider,
  params: { readonly refreshToken: Redacted.Redacted<string>; readonly scopes?: ReadonlyArray<string> | undefined }
): Effect.Effect<TokenResponse, TokenRequestError> =>
  tokenRequest(provider, "refresh_token", {
    refresh_token: params.refreshToken,
    ...(params.scopes !== undefined && params.scopes.length > 0 ? { scope: params.scopes.join(" ") } : {})
  })

/**
 * A client-credentials token (machine to machine), optionally for a `resource` (RFC 8707).
 *
 * @since 0.1.0
 * @category token requests
 */
export const clientCredentials = (
  provider: OAuthProvider,
  params: { readonly scopes?: ReadonlyArray<string> | undefined; readonly resource?: string | undefined } = {}
): Effect.Effect<TokenResponse, TokenRequestError> => {
  const scopes = params.scopes ?? provider.scopes
  return tokenRequest(provider, "client_credentials", {
    ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
    ...(params.resource !== undefined ? { resource: params.resource } : {})
  })
}

/**
 * RFC 8693's URI of an access token, the default `subjectTokenType` and `requestedTokenType` of
 * `exchangeToken`.
 *
 * @since 0.1.0
 * @category constants
 */
export const accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

/**
 * What `exchangeToken` asks for. `subjectToken` is the token the caller presented (usually the
 * MCP request's access token); `audience` and `resource` name the downstream service the new
 * token is for (each may repeat); `scopes` default to the provider's. `actorToken` (with its
 * type) asks for delegation rather than impersonation.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExchangeParams {
  readonly subjectToken: Redacted.Redacted<string>
  readonly subjectTokenType?: string | undefined
  readonly audience?: string | ReadonlyArray<string> | undefined
  readonly resource?: string | ReadonlyArray<string> | undefined
  readonly scopes?: ReadonlyArray<string> | undefined
  readonly requestedTokenType?: string | undefined
  readonly actorToken?: Redacted.Redacted<string> | undefined
  readonly actorTokenType?: string | undefined
}

/**
 * A token exchange (RFC 8693, `urn:ietf:params:oauth:grant-type:token-exchange`): trades the
 * caller's token for one the provider issues for another audience — the on-behalf-of pattern, so
 * a tool calls a downstream API as the user without the user's own token leaving for it. The
 * client authenticates as for every grant. Both tokens stay `Redacted`; a refusal is an
 * `OAuthTokenError` with the provider's error code (`invalid_grant`, `invalid_target`, …).
 *
 * @since 0.1.0
 * @category token requests
 */
export const exchangeToken = (
  provider: OAuthProvider,
  params: ExchangeParams
): Effect.Effect<TokenResponse, TokenRequestError> => {
  const scopes = params.scopes ?? provider.scopes
  const list = (v: string | ReadonlyArray<string> | undefined) => (v === undefined ? [] : typeof v === "string" ? [v] : v)
  return tokenRequest(provider, "token_exchange", {
    subject_token: params.subjectToken,
    subject_token_type: params.subjectTokenType ?? accessTokenType,
    requested_token_type: params.requestedTokenType ?? accessTokenType,
    ...(list(params.audience).length > 0 ? { audience: list(params.audience) } : {}),
    ...(list(params.resource).length > 0 ? { resource: list(params.resource) } : {}),
    ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {}),
    ...(params.actorToken !== undefined
      ? { actor_token: params.actorToken, actor_token_type: params.actorTokenType ?? accessTokenType }
      : {})
  })
}

/**
 * Entra ID's on-behalf-of flow (the `urn:ietf:params:oauth:grant-type:jwt-bearer` grant with
 * `requested_token_use=on_behalf_of`): trades the caller's token (`assertion`, its audience this
 * client) for one for the downstream API named by `scopes` (Entra: `api://<app>/.default` or the
 * API's own scopes). The same purpose as `exchangeToken`, for providers that implement this
 * grant rather than RFC 8693.
 *
 * @since 0.1.0
 * @category token requests
 */
export const onBehalfOf = (
  provider: OAuthProvider,
  params: { readonly assertion: Redacted.Redacted<string>; readonly scopes?: ReadonlyArray<string> | undefined }
): Effect.Effect<TokenResponse, TokenRequestError> => {
  const scopes = params.scopes ?? provider.scopes
  return tokenRequest(provider, "on_behalf_of", {
    assertion: params.assertion,
    requested_token_use: "on_behalf_of",
    ...(scopes.length > 0 ? { scope: scopes.join(" ") } : {})
  })
}

/**
 * Sends a token back to the provider (RFC 7009): a refresh token (`hint: "refresh_token"`) ends
 * the whole grant at providers that tie tokens to it. The provider answers 200 also for a token
 * it no longer knows. Fails with `OAuthConfigError` when the provider has no revocation endpoint.
 *
 * @since 0.1.0
 * @category token requests
 */
export const revoke = (
  provider: OAuthProvider,
  params: { readonly token: Redacted.Redacted<string>; readonly hint?: "access_token" | "refresh_token" | undefined }
): Effect.Effect<void, TokenRequestError | OAuthConfigError> =>
  provider.revocationEndpoint === undefined
    ? Effect.fail(
      new OAuthConfigError({ provider: provider.name, field: "revocationEndpoint", reason: "the provider has no revocation endpoint" })
    )
    : Effect.asVoid(
      providerRequest(provider, "revocation", provider.revocationEndpoint, {}, {
        token: params.token,
        ...(params.hint !== undefined ? { token_type_hint: params.hint } : {})
      })
    )

/**
 * Turns a token response into the `OAuthCredential` a tool receives: `expiresAt` from the `Clock`
 * plus `expires_in` (absent or `0`: no expiry), the previous refresh token kept when the response
 * has none, and the client and token endpoint recorded so the credential can be refreshed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toCredential = (
  provider: OAuthProvider,
  response: TokenResponse,
  previous?: ResolvedCredential.OAuthCredential | undefined
): Effect.Effect<ResolvedCredential.OAuthCredential> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const refreshToken = response.refreshToken ?? previous?.refreshToken
    const scopes = response.scopes ?? previous?.scopes
    return new ResolvedCredential.OAuthCredential({
      type: "oauth",
      accessToken: response.accessToken,
      ...(refreshToken !== undefined ? { refreshToken } : {}),
      clientId: provider.clientId,
      tokenUri: provider.tokenEndpoint,
      ...(scopes !== undefined ? { scopes } : {}),
      ...(response.expiresIn !== undefined && response.expiresIn > 0
        ? { expiresAt: DateTime.unsafeMake(now + Math.min(response.expiresIn, maxExpiresIn) * 1000) }
        : {}),
      extra: previous?.extra ?? {}
    })
  })

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/**
 * The parsed key and certificate thumbprints of a provider, read once per provider object (the
 * key stays `Redacted` on the provider, which is plain options data).
 */
const signers = new WeakMap<OAuthProvider, {
  readonly key: ClientAssertion.SigningKey
  readonly thumbprints: { readonly x5t: string; readonly "x5t#S256": string } | undefined
}>()

/** A fresh `private_key_jwt` assertion for a request of `provider`. */
const clientAssertion = async (provider: OAuthProvider): Promise<string> => {
  let signer = signers.get(provider)
  if (signer === undefined) {
    const key = ClientAssertion.signingKey(provider.privateKey!, provider.privateKeyAlg)
    if (typeof key === "string") throw new Error("unusable key")
    const thumbprints = provider.privateKeyCertificate === undefined ? undefined : ClientAssertion.thumbprints(provider.privateKeyCertificate, key)
    signer = { key, thumbprints: typeof thumbprints === "object" ? thumbprints : undefined }
    signers.set(provider, signer)
  }
  return ClientAssertion.sign(signer.key, {
    clientId: provider.clientId,
    audience: provider.assertionAudience ?? provider.tokenEndpoint,
    kid: provider.privateKeyId,
    thumbprints: signer.thumbprints
  })
}

const discover = (name: string, issuer: string, timeout: Duration.Duration, fetchImpl: Fetch | undefined) =>
  Effect.gen(function*() {
    const fail = (reason: string) => new OAuthDiscoveryError({ provider: name, issuer, reason })
    if (!isHttpUrl(issuer)) return yield* fail("the issuer is not an http(s) URL")
    const base = new URL(issuer)
    const path = base.pathname.replace(/\/$/, "")
    const candidates = [
      `${base.origin}${path}/.well-known/openid-configuration`,
      `${base.origin}/.well-known/oauth-authorization-server${path}`
    ]
    let lastReason = "no metadata document found"
    for (const url of candidates) {
      const response = yield* Effect.either(
        request({ url, method: "GET", headers: { accept: "application/json" }, timeout, fetch: fetchImpl })
      )
      if (response._tag === "Left") {
        lastReason = `the metadata request failed (${response.left})`
        continue
      }
      if (response.right.status !== 200) {
        lastReason = `the metadata endpoint answered HTTP ${response.right.status}`
        continue
      }
      const doc = parseObject(response.right.text)
      if (doc === undefined) return yield* fail("the metadata is not a JSON object")
      if (doc.issuer !== issuer && doc.issuer !== issuer.replace(/\/$/, "")) {
        return yield* fail("the metadata names another issuer")
      }
      if (typeof doc.token_endpoint !== "string") return yield* fail("the metadata has no token_endpoint")
      const methods = doc.code_challenge_methods_supported
      if (Array.isArray(methods) && !methods.includes("S256")) {
        return yield* fail("the provider does not support PKCE S256")
      }
      return {
        tokenEndpoint: doc.token_endpoint,
        authorizationEndpoint: typeof doc.authorization_endpoint === "string" ? doc.authorization_endpoint : undefined,
        revocationEndpoint: typeof doc.revocation_endpoint === "string" ? doc.revocation_endpoint : undefined
      }
    }
    return yield* fail(lastReason)
  })

const errorCode = /^[\x20-\x21\x23-\x5B\x5D-\x7E]{1,64}$/

/**
 * The provider's error_description without any value this request sent — in any form the
 * server's scrubber knows (a provider that echoes the request gives the refresh token or the code
 * back form-encoded, the client secret inside the `Basic` header's base64) — at most 200
 * characters.
 */
const safeDescription = (value: unknown, scrubber: Scrubber.Scrubber): string | undefined => {
  if (typeof value !== "string" || value === "") return undefined
  const out = scrubber.scrubString(value).value.replace(/[^\x20-\x7E]/g, " ")
  return out.length > 200 ? `${out.slice(0, 200)}…` : out
}

/**
 * A form POST to one of the provider's endpoints, with the client's authentication: the answer,
 * its JSON object if any, and the OAuth error it carries (every value this request sent removed)
 * when the status is not 200.
 */
const providerRequest = (
  provider: OAuthProvider,
  grant: Grant,
  url: string,
  first: Readonly<Record<string, string>>,
  fields: Readonly<Record<string, string | ReadonlyArray<string> | Redacted.Redacted<string>>>
) =>
  Effect.gen(function*() {
    // the secrets leave the process here, and only here
    const body = new URLSearchParams(first)
    const sent: Array<string> = []
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v === "string") body.set(k, v)
      else if (Redacted.isRedacted(v)) {
        const plain = Redacted.value(v)
        sent.push(plain)
        body.set(k, plain)
      } else for (const each of v) body.append(k, each)
    }
    const headers: Record<string, string> = {
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded"
    }
    const secret = provider.clientSecret === undefined ? undefined : Redacted.value(provider.clientSecret)
    if (secret !== undefined) sent.push(secret)
    const failRequest = (reason: string) => new OAuthRequestError({ provider: provider.name, grant, reason })
    if (provider.clientAuthMethod === "private_key_jwt") {
      const assertion = yield* Effect.tryPromise({
        try: () => clientAssertion(provider),
        catch: () => failRequest("the client assertion could not be signed with privateKey")
      })
      // valid for a minute: a bearer credential of this client, scrubbed like the secret
      sent.push(assertion)
      body.set("client_id", provider.clientId)
      body.set("client_assertion_type", ClientAssertion.assertionType)
      body.set("client_assertion", assertion)
    } else if (provider.clientAuthMethod === "client_secret_basic") {
      const user = encodeURIComponent(provider.clientId)
      const pass = encodeURIComponent(secret ?? "")
      headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`
      // the password as the header carries it (its base64 differs from the secret's when encoding changed it)
      if (secret !== undefined) sent.push(pass)
    } else {
      body.set("client_id", provider.clientId)
      if (provider.clientAuthMethod === "client_secret_post") body.set("client_secret", secret ?? "")
    }
    const endpoint = grant === "revocation" ? "the revocation endpoint" : "the token endpoint"
    const response = yield* request({
      url,
      method: "POST",
      headers,
      body: body.toString(),
      timeout: provider.timeout,
      fetch: provider.fetch
    }).pipe(Effect.mapError((reason) => failRequest(`${endpoint} ${reason === "network" ? "is unreachable" : reason === "timeout" ? "timed out" : reason === "redirect" ? "redirected" : "answered too much"}`)))
    const json = parseObject(response.text)
    // an error answered with 200 (GitHub answers every token error so: `{"error": "bad_refresh_token"}`)
    // is the same refusal as one with 400
    const errorIn200 = grant !== "revocation" && response.status === 200 && typeof json?.error === "string" &&
      json.access_token === undefined
    if (response.status !== 200 || errorIn200) {
      const code = json?.error
      const sub = json?.suberror
      const scrubber = Scrubber.make(sent)
      // a code that holds a value this request sent is no code
      const isCode = (c: unknown): c is string => typeof c === "string" && errorCode.test(c) && scrubber.scrubString(c).count === 0
      return yield* new OAuthTokenError({
        provider: provider.name,
        grant,
        status: response.status,
        error: isCode(code) ? code : "invalid_response",
        ...(isCode(sub) ? { suberror: sub } : {}),
        ...(json === undefined ? {} : { description: safeDescription(json.error_description, scrubber) })
      })
    }
    return { json, failRequest }
  })

/** Token types that cannot be sent as `Authorization: Bearer` (lowercase). */
const unusableTokenTypes: ReadonlySet<string> = new Set(["dpop", "pop", "mac", "n_a"])

/** The longest `expires_in` taken (ten years, in seconds). */
const maxExpiresIn = 10 * 366 * 24 * 3600

const tokenRequest = (
  provider: OAuthProvider,
  grant: Grant,
  fields: Readonly<Record<string, string | ReadonlyArray<string> | Redacted.Redacted<string>>>
): Effect.Effect<TokenResponse, TokenRequestError> =>
  Effect.gen(function*() {
    const grantType = grant === "token_exchange"
      ? "urn:ietf:params:oauth:grant-type:token-exchange"
      : grant === "on_behalf_of"
      ? "urn:ietf:params:oauth:grant-type:jwt-bearer"
      : grant
    const { failRequest, json } = yield* providerRequest(provider, grant, provider.tokenEndpoint, { grant_type: grantType }, fields)
    if (json === undefined) return yield* failRequest("the token response is not a JSON object")
    const { access_token, refresh_token, expires_in, scope, id_token, token_type, issued_token_type } = json
    if (typeof access_token !== "string" || access_token === "") {
      return yield* failRequest("the token response has no access_token")
    }
    if (refresh_token !== undefined && (typeof refresh_token !== "string" || refresh_token === "")) {
      return yield* failRequest("the token response has an invalid refresh_token")
    }
    const expiresIn = typeof expires_in === "number"
      ? expires_in
      : typeof expires_in === "string" && /^\d+$/.test(expires_in)
      ? Number(expires_in)
      : undefined
    if (expires_in !== undefined && (expiresIn === undefined || !Number.isFinite(expiresIn) || expiresIn < 0)) {
      return yield* failRequest("the token response has an invalid expires_in")
    }
    // RFC 6749 §7.1: a token bound to a key or not meant for requests (`DPoP`, `PoP`, `mac`, `N_A`)
    // cannot be sent as a bearer token, which is how tools use it; other types are (Slack answers
    // `bot` or `user` for bearer tokens), and an absent one is Bearer. A token exchange (and
    // on-behalf-of) checks its own (`issued_token_type`, N_A for what is not an access token).
    if (grant !== "token_exchange" && grant !== "on_behalf_of" && typeof token_type === "string" && unusableTokenTypes.has(token_type.toLowerCase())) {
      return yield* failRequest("the token response's token_type is not a bearer token")
    }
    return {
      accessToken: Redacted.make(access_token),
      tokenType: typeof token_type === "string" ? token_type : "Bearer",
      refreshToken: typeof refresh_token === "string" ? Redacted.make(refresh_token) : undefined,
      // at most ten years: a larger one is no lifetime a token has, and past the range of a date
      // (the answer is kept, not refused: it may carry a rotated refresh token)
      expiresIn: expiresIn === undefined ? undefined : Math.min(expiresIn, maxExpiresIn),
      scopes: typeof scope === "string" ? scope.split(" ").filter((s) => s !== "") : undefined,
      idToken: typeof id_token === "string" ? Redacted.make(id_token) : undefined,
      ...(typeof issued_token_type === "string" ? { issuedTokenType: issued_token_type } : {})
    }
  })

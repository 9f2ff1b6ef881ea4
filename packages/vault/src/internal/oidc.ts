/**
 * The OpenID Connect relying party of the credential pages: discovery, the authorization code
 * flow with PKCE (S256), state and nonce, and id_token verification with `jose` against the
 * provider's JWKS. Nothing here logs a code, a state, a verifier or a token.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import * as crypto from "node:crypto"
import { isHttpUrl, parseObject } from "./oauthHttp.js"

/** @internal */
export interface OidcConfig {
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  readonly scopes: ReadonlyArray<string>
  readonly redirectUri: string
}

/** @internal */
export class OidcError extends Data.TaggedError("OidcError")<{
  readonly step: "discovery" | "token" | "id_token"
  readonly reason: string
}> {
  override get message(): string {
    return `OpenID Connect ${this.step} failed: ${this.reason}`
  }
}

interface Discovery {
  readonly issuer: string
  readonly authorization_endpoint: string
  readonly token_endpoint: string
  readonly jwks_uri: string
}

/** @internal */
export const randomToken = (bytes = 32): string => crypto.randomBytes(bytes).toString("base64url")

/** @internal */
export const s256 = (verifier: string): string => crypto.createHash("sha256").update(verifier).digest("base64url")

/** @internal */
export const sameSecret = (a: string, b: string): boolean => {
  const x = crypto.createHash("sha256").update(a).digest()
  const y = crypto.createHash("sha256").update(b).digest()
  return crypto.timingSafeEqual(x, y)
}

const fetchJson = (url: string, init: RequestInit, step: OidcError["step"]) =>
  Effect.tryPromise({
    try: async (signal) => {
      const res = await fetch(url, { ...init, signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
      // only a JSON object is an answer: `null`, an array or a string is treated as no body
      const body = parseObject(await res.text().catch(() => ""))
      return { status: res.status, body }
    },
    catch: () => new OidcError({ step, reason: "the identity provider could not be reached" })
  })

/** @internal */
export const makeClient = (config: OidcConfig) => {
  const issuer = config.issuer.replace(/\/+$/, "")
  let discovery: Promise<{ readonly doc: Discovery; readonly jwks: ReturnType<typeof jose.createRemoteJWKSet> }> | undefined

  const discover = Effect.suspend(() => {
    if (discovery === undefined) {
      const p = Effect.runPromise(
        Effect.gen(function*() {
          const { body, status } = yield* fetchJson(`${issuer}/.well-known/openid-configuration`, {}, "discovery")
          if (status !== 200) return yield* new OidcError({ step: "discovery", reason: `status ${status}` })
          if (body === undefined) return yield* new OidcError({ step: "discovery", reason: "the document is not a JSON object" })
          const iss = typeof body.issuer === "string" ? body.issuer.replace(/\/+$/, "") : ""
          if (iss !== issuer) return yield* new OidcError({ step: "discovery", reason: "the document's issuer does not match" })
          for (const f of ["authorization_endpoint", "token_endpoint", "jwks_uri"] as const) {
            if (typeof body[f] !== "string") return yield* new OidcError({ step: "discovery", reason: `${f} is missing` })
            // checked here, so that building the sign-in URL or a request never throws later
            if (!isHttpUrl(body[f])) return yield* new OidcError({ step: "discovery", reason: `${f} is not an http(s) URL` })
          }
          const doc = body as unknown as Discovery
          return { doc, jwks: jose.createRemoteJWKSet(new URL(doc.jwks_uri)) }
        })
      )
      discovery = p
      p.catch(() => {
        if (discovery === p) discovery = undefined // retry on the next request
      })
    }
    const d = discovery
    return Effect.tryPromise({
      try: () => d,
      catch: (e) => e instanceof OidcError ? e : new OidcError({ step: "discovery", reason: "failed" })
    })
  })

  /** The URL to send the browser to. */
  const authorizationUrl = (params: {
    readonly state: string
    readonly nonce: string
    readonly verifier: string
    /** `login`: the identity provider asks the user to sign in again, whatever session it holds. */
    readonly prompt?: "login" | undefined
  }) =>
    Effect.map(discover, ({ doc }) => {
      const url = new URL(doc.authorization_endpoint)
      url.searchParams.set("response_type", "code")
      url.searchParams.set("client_id", config.clientId)
      url.searchParams.set("redirect_uri", config.redirectUri)
      url.searchParams.set("scope", config.scopes.join(" "))
      url.searchParams.set("state", params.state)
      url.searchParams.set("nonce", params.nonce)
      url.searchParams.set("code_challenge", s256(params.verifier))
      url.searchParams.set("code_challenge_method", "S256")
      if (params.prompt !== undefined) url.searchParams.set("prompt", params.prompt)
      return url.toString()
    })

  /** Exchanges the code and verifies the id_token: returns its claims. */
  const finish = (params: { readonly code: string; readonly verifier: string; readonly nonce: string }) =>
    Effect.gen(function*() {
      const { doc, jwks } = yield* discover
      const basic = Buffer.from(
        `${encodeURIComponent(config.clientId)}:${encodeURIComponent(Redacted.value(config.clientSecret))}`
      ).toString("base64")
      const { body, status } = yield* fetchJson(doc.token_endpoint, {
        method: "POST",
        headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body: new URLSearchParams({
          grant_type: "authorization_code",
          code: params.code,
          redirect_uri: config.redirectUri,
          code_verifier: params.verifier
        })
      }, "token")
      if (status !== 200) {
        const error = typeof body?.error === "string" ? body.error.replace(/[^a-z_]/gi, "").slice(0, 40) : `status ${status}`
        return yield* new OidcError({ step: "token", reason: error })
      }
      // a 200 whose body is no JSON object has no id_token either
      const idToken = body?.id_token
      if (typeof idToken !== "string") return yield* new OidcError({ step: "token", reason: "no id_token in the response" })
      const { payload } = yield* Effect.tryPromise({
        // the id_token's `iss` must equal the discovery document's `issuer` exactly (OIDC Core
        // §3.1.3.7), trailing slash included (Auth0's ends in "/"); the configured value was only
        // compared with it up to trailing slashes
        try: () => jose.jwtVerify(idToken, jwks, { issuer: doc.issuer, audience: config.clientId, clockTolerance: 30 }),
        catch: (e) =>
          new OidcError({ step: "id_token", reason: e instanceof jose.errors.JOSEError ? e.code : "verification failed" })
      })
      if (typeof payload.nonce !== "string" || !sameSecret(payload.nonce, params.nonce)) {
        return yield* new OidcError({ step: "id_token", reason: "nonce mismatch" })
      }
      if (typeof payload.sub !== "string" || payload.sub === "") {
        return yield* new OidcError({ step: "id_token", reason: "no sub claim" })
      }
      return payload as jose.JWTPayload & { readonly sub: string }
    })

  return { authorizationUrl, finish }
}

/**
 * Per-user authorization of a downstream OAuth provider (authorization code + PKCE S256) through
 * MCP URL elicitation, with the token stored encrypted in the `CredentialStore` and refreshed by
 * `TokenRefresh` on later calls.
 *
 * **The tool side** (`layer`): a named credential backend. On a call it finds the user (the
 * access token's `sub`) and asks `TokenRefresh` for the stored token (refreshed when it expires
 * within the margin). When there is none, or the refresh token is dead
 * (`ReauthorizationRequiredError`), it creates a one-time `PendingStore` entry and elicits its
 * link through the `Elicitation` in use (blocking, or fail-fast -32042, exactly as
 * `CredentialsProvider`; on 2026-07-28 the retry's `requestState` resumes the wait through
 * `Elicitation.resume`), waits for the callback, and gives the tool the new token.
 *
 * **The pages** (`router`, mounted next to `CredentialsPage.router` under the same `basePath`):
 * `GET <basePath>/oauth/<name>/start?t=…` first signs the browser in at the identity provider
 * (the same OIDC sign-in and session as the credential pages; its `<basePath>/callback` is
 * served by `CredentialsPage.router`), refuses any user other than the one the elicitation is for,
 * then redirects to the provider with a fresh `state` (random, single-use, bound to that browser
 * session and that user) and a PKCE S256 challenge. `GET <basePath>/oauth/<name>/callback` (the
 * redirect URI to register at the provider, see `redirectUri`) redeems the `state`, exchanges the
 * code, stores the tokens and completes the pending entry, which wakes the waiting call on any
 * replica. Provider errors (`error=access_denied`, a failed exchange) end the flow with an error
 * page and a tool error. No `state`, code or token is logged or shown.
 *
 * @since 0.1.0
 */
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { CredentialBackend, CredentialError, type ResolvedCredential } from "@mcp-credentials/core"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { CredentialStore } from "./CredentialStore.js"
import * as CredentialsPage from "./CredentialsPage.js"
import { Elicitation, type Mode } from "./Elicitation.js"
import * as ElicitationFlow from "./internal/elicitationFlow.js"
import * as Html from "./internal/html.js"
import * as Oidc from "./internal/oidc.js"
import * as PageSession from "./internal/pageSession.js"
import { revokeTokens } from "./internal/revokeTokens.js"
import * as OAuthProvider from "./OAuthProvider.js"
import {
  AuthorizationConfigError,
  AuthorizationNotCompletedError,
  AuthorizationRequiredError,
  AuthorizationUnavailableError
} from "./OAuthAuthorizationError.js"
import { type PendingEntry, type PendingResult, PendingStore } from "./PendingStore.js"
import { TokenRefresh } from "./TokenRefresh.js"
import type { VaultError } from "./VaultError.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The provider (`OAuthProvider.make`); its `name` is the tool's credential name and the store key. */
  readonly provider: OAuthProvider.OAuthProvider
  /** Shown to users; default the provider's name. */
  readonly title?: string | undefined
  /** The scopes to ask for; default the provider's. */
  readonly scopes?: ReadonlyArray<string> | undefined
  /** How long the link stays valid and a blocking call waits for the callback. Default 300 s. */
  readonly timeout?: Duration.DurationInput | undefined
  /** How long the stored record lives (refreshes keep what remains). Default 30 days. */
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * An authorization definition (no state: the stores hold it).
 *
 * @since 0.1.0
 * @category models
 */
export interface OAuthAuthorization {
  readonly provider: OAuthProvider.OAuthProvider
  readonly name: string
  readonly title: string
  readonly scopes: ReadonlyArray<string>
  readonly timeout: Duration.Duration
  readonly ttl: Duration.Duration
}

/**
 * Where the pages are served, for the links the flow builds (as `CredentialsProvider.LayerOptions`).
 *
 * @since 0.1.0
 * @category models
 */
export interface LayerOptions {
  /** The server's public origin (and path prefix if any), e.g. `https://mcp.example.com`. */
  readonly baseUrl: string
  /** The pages' path prefix, the same as `CredentialsPage`'s. Default `/credentials`. */
  readonly basePath?: string | undefined
  /** 2025-11-25: hold the call while the user authorizes (default), or fail fast with -32042. */
  readonly mode?: Mode | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface RouterOptions {
  readonly baseUrl: string
  /** Default `/credentials`: must be `CredentialsPage.router`'s, which serves the sign-in callback. */
  readonly basePath?: string | undefined
  readonly authorizations: ReadonlyArray<OAuthAuthorization>
  /** The identity provider's client: the same as `CredentialsPage.router`'s `oidc`. */
  readonly oidc: CredentialsPage.OidcOptions
  /** How long a sign-in, and the trip to the provider, may take. Default 10 minutes. */
  readonly loginTtl?: Duration.DurationInput | undefined
}

/**
 * The default lifetime of a link and of a blocking wait.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(300)

/**
 * The default lifetime of a stored authorization record.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultTtl: Duration.Duration = Duration.days(30)

/**
 * Defines the authorization of a provider.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): OAuthAuthorization => ({
  provider: options.provider,
  name: options.provider.name,
  title: options.title ?? options.provider.name,
  scopes: options.scopes ?? options.provider.scopes,
  timeout: Duration.decode(options.timeout ?? defaultTimeout),
  ttl: Duration.decode(options.ttl ?? defaultTtl)
})

/**
 * The tool declaration: `{ [name]: "oauth" }`; the tool reads the token with
 * `CurrentCredential.getOAuth(name)`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const declaration = (self: OAuthAuthorization): Readonly<Record<string, "oauth">> => ({ [self.name]: "oauth" })

/**
 * Disconnects `subject` from the provider (a user unlinking an account, an offboarding): the
 * stored tokens are sent back to the provider when it has a revocation endpoint (RFC 7009; the
 * refresh token, which ends the grant, then the access token), and the stored record is deleted
 * either way — also when the provider is down or the record cannot be opened. `revoked` says
 * whether the provider accepted the revocation; a failure is logged without any token.
 *
 * @since 0.1.0
 * @category operators
 */
export const disconnect = (
  self: OAuthAuthorization,
  subject: string
): Effect.Effect<{ readonly removed: boolean; readonly revoked: boolean }, VaultError, CredentialStore> =>
  Effect.gen(function*() {
    const store = yield* CredentialStore
    const key = { provider: self.name, subject }
    // a record sealed with a retired key cannot be revoked at the provider, but is still deleted
    const stored = yield* store.get(key).pipe(
      Effect.catchTag("DecryptionError", (e) =>
        Effect.as(Effect.logWarning(`${self.name} disconnect: the stored record cannot be opened (${e.message}); deleting it`), Option.none()))
    )
    const credential = Option.isSome(stored) ? stored.value.credential : undefined
    const revoked = credential?.type === "oauth" && self.provider.revocationEndpoint !== undefined
      ? yield* revokeTokens(self.provider, credential, `${self.name} disconnect`)
      : false
    const removed = yield* store.delete(key)
    if (removed) yield* Effect.logInfo(`${self.name} disconnected${revoked ? " (revoked at the provider)" : ""}`)
    return { removed, revoked }
  })

/**
 * The paths of the pages under `basePath`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const paths = (self: OAuthAuthorization, basePath: string = defaultBasePath) => {
  const base = `${trimSlash(basePath)}/oauth/${self.name}`
  return { start: `${base}/start`, callback: `${base}/callback`, connect: `${base}/connect` } as const
}

/**
 * The redirect URI to register at the provider: `<baseUrl><basePath>/oauth/<name>/callback`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const redirectUri = (
  self: OAuthAuthorization,
  options: { readonly baseUrl: string; readonly basePath?: string | undefined }
): string => `${trimSlash(options.baseUrl)}${paths(self, options.basePath).callback}`

/**
 * The one-time link of a pending authorization.
 *
 * @since 0.1.0
 * @category accessors
 */
export const startUrl = (self: OAuthAuthorization, options: LayerOptions, pendingId: string): string =>
  `${trimSlash(options.baseUrl)}${paths(self, options.basePath).start}?t=${encodeURIComponent(pendingId)}`

/**
 * The connect page (sign in, then authorize): not a capability.
 *
 * @since 0.1.0
 * @category accessors
 */
export const connectUrl = (self: OAuthAuthorization, options: LayerOptions): string =>
  `${trimSlash(options.baseUrl)}${paths(self, options.basePath).connect}`

/**
 * The authorization as a named credential backend (`CredentialBackend.named(name)`). It needs the
 * stores, an `Elicitation` implementation, and a `TokenRefresh` that knows the provider.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  self: OAuthAuthorization,
  options: LayerOptions
): Layer.Layer<
  CredentialBackend.Named<string>,
  AuthorizationConfigError,
  CredentialStore | PendingStore | Elicitation | TokenRefresh
> =>
  Layer.effect(
    CredentialBackend.named(self.name),
    Effect.gen(function*() {
      yield* check(self)
      if (!/^https?:\/\//.test(options.baseUrl)) {
        return yield* new AuthorizationConfigError({ field: "baseUrl", reason: "must be an http(s) URL" })
      }
      const flow = makeFlow(self, options, yield* PendingStore, yield* Elicitation, yield* TokenRefresh)
      return CredentialBackend.CredentialBackend.of({
        // UrlElicitationRequiredError carries its own JSON-RPC answer; the others are credential errors
        resolve: (request) => flow(request) as Effect.Effect<ResolvedCredential.ResolvedCredential, any>
      })
    })
  )

/**
 * The pages as a router, to concatenate with `CredentialsPage.router` (same `baseUrl`,
 * `basePath` and `oidc`): `HttpRouter.concat(CredentialsPage.router(…), OAuthAuthorization.router(…))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (options: RouterOptions): HttpRouter.HttpRouter<never, CredentialStore | PendingStore | Elicitation> => {
  const basePath = trimSlash(options.basePath ?? defaultBasePath)
  // the browser sign-in and session of the credential pages (CredentialsPage serves the callback)
  const { loginTtl, origin, sessionOf, startLogin } = PageSession.forPages({
    baseUrl: options.baseUrl,
    basePath,
    oidc: options.oidc,
    cookieNames: { session: CredentialsPage.sessionCookie, login: CredentialsPage.loginCookie },
    loginTtl: options.loginTtl
  })

  const html = Html.respond
  const fail = (status: number, message: string, self?: OAuthAuthorization) =>
    html(status, (nonce) =>
      Html.page(
        nonce,
        self === undefined ? "Error" : `Error — ${self.title} Authorization`,
        `<h1>Error</h1><p class="error" id="error">${Html.escape(message)}</p>`
      ))
  const redirect = (location: string) =>
    HttpServerResponse.redirect(location, { status: 302, headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" } })
  const query = (request: HttpServerRequest.HttpServerRequest, name: string): string | undefined => {
    const value = new URL(request.url, "http://local").searchParams.get(name)
    return value === null || value === "" ? undefined : value
  }
  const pathAndQuery = (request: HttpServerRequest.HttpServerRequest) => {
    const url = new URL(request.url, "http://local")
    return `${url.pathname}${url.search}`
  }

  const linkOf = (self: OAuthAuthorization, t: string | undefined) =>
    Effect.gen(function*() {
      if (t === undefined || !PageSession.tokenShape.test(t)) return Option.none<PendingEntry>()
      const pending = yield* PendingStore
      return Option.filter(yield* pending.get(t), (e) => e.provider === pendingProviderOf(self))
    })
  /** Ends the pending authorization `pendingId` with an error the waiting call reports. */
  const end = (self: OAuthAuthorization, pendingId: string, reason: AuthorizationNotCompletedError["reason"]) =>
    Effect.gen(function*() {
      const pending = yield* PendingStore
      const taken = yield* pending.take(pendingId)
      if (Option.isNone(taken)) return
      yield* pending.complete(pendingId, { status: "error", reason }, { ttl: self.timeout })
      yield* Effect.logWarning(`${self.name} authorization ended: ${reason}`)
    })

  const start = (self: OAuthAuthorization) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const t = query(request, "t")
      const link = yield* linkOf(self, t)
      if (Option.isNone(link)) return yield* fail(400, "Invalid or expired authorization request.", self)
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* startLogin(pathAndQuery(request))
      if (session.value.subject !== link.value.subject) {
        yield* Effect.logWarning(`${self.name} authorization link opened by another user: refused`)
        const switchUser = PageSession.switchUserPath(basePath, pathAndQuery(request), session.value)
        return yield* html(403, (nonce) =>
          Html.wrongUserPage(nonce, `Error — ${self.title} Authorization`, wrongUserMessage(self), switchUser))
      }
      const pending = yield* PendingStore
      const state = yield* OAuthProvider.makeState
      const pkce = yield* OAuthProvider.makePkce
      yield* pending.create({
        id: Redacted.value(state),
        provider: stateProvider,
        subject: link.value.subject,
        data: {
          provider: self.name,
          pendingId: link.value.id,
          verifier: Redacted.value(pkce.verifier),
          session: Oidc.s256(session.value.id)
        }
      }, loginTtl)
      const url = yield* OAuthProvider.authorizationUrl(self.provider, {
        redirectUri: redirectUri(self, { baseUrl: options.baseUrl, basePath }),
        state,
        pkce,
        scopes: self.scopes
      })
      yield* Effect.logInfo(`${self.name} authorization: browser sent to the provider`)
      return redirect(url.href)
    })

  const callback = (self: OAuthAuthorization) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const state = query(request, "state")
      if (state === undefined || !PageSession.tokenShape.test(state)) return yield* fail(400, "Invalid authorization response.", self)
      const pending = yield* PendingStore
      // checked before it is consumed: an unknown state or a request from another browser session
      // must not burn the entry; once accepted, it is single use
      const found = yield* pending.get(state)
      if (Option.isNone(found) || found.value.provider !== stateProvider || found.value.data.provider !== self.name) {
        yield* Effect.logWarning(`${self.name} authorization callback with an unknown or used state: refused`)
        return yield* fail(400, "The authorization expired or was already used. Open the link from your MCP client again.", self)
      }
      const session = yield* sessionOf(request)
      if (
        Option.isNone(session) || session.value.subject !== found.value.subject ||
        !Oidc.sameSecret(Oidc.s256(session.value.id), String(found.value.data.session ?? ""))
      ) {
        yield* Effect.logWarning(`${self.name} authorization callback from another browser session or user: refused`)
        return yield* fail(403, "This authorization was not started in this browser by the signed-in user.", self)
      }
      // from taking the state on, one step a browser that goes away does not cut short: the code
      // is redeemed once, and the waiting call is told how it ended (each part is bounded)
      return yield* Effect.uninterruptible(Effect.gen(function*() {
        const tx = yield* pending.take(state)
        if (Option.isNone(tx)) {
          yield* Effect.logWarning(`${self.name} authorization callback with an unknown or used state: refused`)
          return yield* fail(400, "The authorization expired or was already used. Open the link from your MCP client again.", self)
        }
        const pendingId = String(tx.value.data.pendingId ?? "")
        const error = query(request, "error")
        if (error !== undefined) {
          const reason = error === "access_denied" ? "access_denied" : "provider_error"
          yield* end(self, pendingId, reason)
          return yield* fail(
            400,
            reason === "access_denied"
              ? `Access was denied at ${self.title}. Nothing was stored; you can close this tab.`
              : `${self.title} answered with an error. Nothing was stored; you can close this tab.`,
            self
          )
        }
        const code = query(request, "code")
        if (code === undefined) {
          yield* end(self, pendingId, "provider_error")
          return yield* fail(400, "Invalid authorization response.", self)
        }
        // the link this state was made for must still be waiting before the code is redeemed: a
        // state of a link already used (reopened in another tab) or expired would otherwise mint a
        // grant nobody keeps (read here, taken once the tokens are in hand)
        const link = yield* pending.get(pendingId)
        if (Option.isNone(link) || link.value.provider !== pendingProviderOf(self)) {
          yield* Effect.logWarning(`${self.name} authorization callback for a used or expired link: the code is not redeemed`)
          return yield* fail(400, "Invalid or expired authorization request.", self)
        }
        const exchanged = yield* OAuthProvider.exchangeCode(self.provider, {
          code: Redacted.make(code),
          redirectUri: redirectUri(self, { baseUrl: options.baseUrl, basePath }),
          codeVerifier: Redacted.make(String(tx.value.data.verifier ?? ""))
        }).pipe(Effect.either)
        if (exchanged._tag === "Left") {
          // the error names the provider, grant and OAuth error code: never the code or a token
          yield* Effect.logWarning(`${self.name} authorization code exchange failed: ${exchanged.left.message}`)
          yield* end(self, pendingId, "exchange_failed")
          return yield* fail(502, `${self.title} did not accept the authorization. Nothing was stored; call the tool again to retry.`, self)
        }
        const taken = yield* pending.take(pendingId)
        if (Option.isNone(taken)) {
          // the link was used or expired while the code was redeemed: nobody keeps these tokens
          yield* revokeUnkept(self, exchanged.right, "its link was used or expired meanwhile")
          return yield* fail(400, "Invalid or expired authorization request.", self)
        }
        const credential = yield* OAuthProvider.toCredential(self.provider, exchanged.right)
        const store = yield* CredentialStore
        yield* store.set({ provider: self.name, subject: taken.value.subject }, credential, { ttl: self.ttl }).pipe(
          // the code is redeemed and the tokens cannot be kept: they are revoked at the provider,
          // and the waiting call is told now (it fails with `failed`; calling the tool again
          // starts a new authorization)
          Effect.tapError(() =>
            Effect.zipRight(
              revokeUnkept(self, exchanged.right, "the credential store failed"),
              Effect.ignore(pending.complete(pendingId, { status: "error", reason: "failed" }, { ttl: self.timeout }))
            )
          )
        )
        yield* pending.complete(pendingId, { status: "stored" }, { ttl: self.timeout })
        yield* PageSession.notifySubmitted(taken.value)
        yield* Effect.logInfo(`${self.name} authorization stored`)
        return yield* html(200, (nonce) =>
          Html.page(
            nonce,
            `${self.title} — Authorized`,
            `<h1 id="authorized">${Html.escape(self.title)} authorized</h1><p>The access is stored encrypted on the MCP server ` +
              `and is never shown to the AI assistant. You can close this tab and return to your MCP client.</p>`
          ))
      }))
    })

  // `connect` (for clients without URL elicitation) starts an authorization without a link: a GET
  // only asks, and the authorization starts on the page's own POST (CSRF token, same origin), so a
  // page elsewhere that sends the browser here cannot replace the stored access (connect CSRF)
  const connect = (self: OAuthAuthorization) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* startLogin(paths(self, basePath).connect)
      const csrf = String(session.value.data.csrf ?? "")
      const label = typeof session.value.data.label === "string" ? session.value.data.label : session.value.subject
      return yield* html(200, (nonce) =>
        Html.page(
          nonce,
          `${self.title} — Connect`,
          `<h1>Connect ${Html.escape(self.title)}</h1><p>Signed in as <strong>${Html.escape(label)}</strong>. ` +
            `Continue to authorize the MCP server to use your ${Html.escape(self.title)} account; the access is stored ` +
            `encrypted on the server and never shown to the AI assistant.</p>` +
            `<form method="post" action="${Html.escape(paths(self, basePath).connect)}">` +
            `<input type="hidden" name="_csrf" value="${Html.escape(csrf)}"><button type="submit" id="continue">Continue</button></form>`
        ))
    })

  const connectConfirmed = (self: OAuthAuthorization) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (PageSession.fromAnotherSite(request, origin)) return yield* fail(403, "The form was submitted from another site.", self)
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* fail(403, "Your sign-in has expired. Open the page again to sign in.", self)
      const read = yield* request.urlParamsBody.pipe(IncomingMessage.withMaxBodySize(Option.some(4096)), Effect.either)
      const sent = read._tag === "Right" ? read.right.find(([k]) => k === "_csrf")?.[1] : undefined
      if (!PageSession.csrfMatches(session.value, sent)) return yield* fail(403, "The page has expired. Open it again.", self)
      const pending = yield* PendingStore
      const created = yield* pending.create(
        { provider: pendingProviderOf(self), subject: session.value.subject, data: { origin: "connect" } },
        self.timeout
      )
      return HttpServerResponse.redirect(`${paths(self, basePath).start}?t=${encodeURIComponent(created.id)}`, {
        status: 303,
        headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" }
      })
    })

  const guard = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>, self: OAuthAuthorization) =>
    handler.pipe(
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.logError(`${self.name} authorization page failed: ${(e as { message?: string }).message ?? "error"}`),
          fail(503, "The authorization service is unavailable right now. Try again later.", self)
        )
      )
    )

  let r: HttpRouter.HttpRouter<never, CredentialStore | PendingStore | Elicitation> = HttpRouter.empty
  for (const self of options.authorizations) {
    const p = paths(self, basePath)
    r = r.pipe(
      HttpRouter.get(p.start as HttpRouter.PathInput, guard(start(self), self)),
      HttpRouter.get(p.callback as HttpRouter.PathInput, guard(callback(self), self)),
      HttpRouter.get(p.connect as HttpRouter.PathInput, guard(connect(self), self)),
      HttpRouter.post(p.connect as HttpRouter.PathInput, guard(connectConfirmed(self), self))
    )
  }
  return r
}

/**
 * Checks a definition.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (self: OAuthAuthorization): Effect.Effect<OAuthAuthorization, AuthorizationConfigError> => {
  if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(self.name)) {
    return new AuthorizationConfigError({ field: "provider.name", reason: "must match [a-z0-9][a-z0-9_-]* (at most 64 characters)" })
  }
  if (self.provider.authorizationEndpoint === undefined) {
    return new AuthorizationConfigError({ field: "provider.authorizationEndpoint", reason: "is required for the authorization code flow" })
  }
  if (Duration.toMillis(self.timeout) < 1000) return new AuthorizationConfigError({ field: "timeout", reason: "must be at least 1 second" })
  return Effect.succeed(self)
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const defaultBasePath = "/credentials"
const stateProvider = "__oauth_state"
const pendingProviderOf = (self: OAuthAuthorization) => `oauth:${self.name}`

const trimSlash = (s: string) => s.replace(/\/+$/, "")

const wrongUserMessage = (self: OAuthAuthorization) =>
  `This ${self.title} authorization request was made for a different user than the one you signed in as. ` +
  `Only the user who asked for it can complete it. If that is you under another account, sign out below and sign in as that user.`

/**
 * Tokens a callback redeemed but cannot keep (its link is gone, the store failed) are sent back to
 * the provider's revocation endpoint, best effort (the refresh token, which ends the grant, then
 * the access token), as `TokenRefresh` does for a record deleted during a refresh. Failures are
 * logged without any token.
 */
const revokeUnkept = (self: OAuthAuthorization, issued: OAuthProvider.TokenResponse, why: string): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.logInfo(`${self.name} authorization: the tokens just issued cannot be kept (${why}); they are revoked`),
    Effect.asVoid(revokeTokens(self.provider, issued, `${self.name} authorization (tokens that cannot be kept)`))
  )

const reasons: ReadonlyArray<AuthorizationNotCompletedError["reason"]> = [
  "declined",
  "cancelled",
  "timeout",
  "failed",
  "access_denied",
  "provider_error",
  "exchange_failed"
]

const makeFlow = (
  self: OAuthAuthorization,
  options: LayerOptions,
  pending: PendingStore["Type"],
  elicitation: Elicitation["Type"],
  refresher: TokenRefresh["Type"]
) => {
  const mode = options.mode ?? "blocking"
  const unavailable = (operation: string) => (e: VaultError) =>
    Effect.zipRight(
      Effect.logError(`${self.name} authorization store failed during ${operation}: ${e.message}`),
      new AuthorizationUnavailableError({ provider: self.name, operation })
    )
  const notCompleted = (reason: AuthorizationNotCompletedError["reason"]) =>
    new AuthorizationNotCompletedError({ provider: self.name, title: self.title, reason })
  /** The stored token, refreshed if needed; `None` when the user must authorize (again). */
  const current = (subject: string) =>
    refresher.get({ provider: self.name, subject }).pipe(
      Effect.map(Option.map((s) => s.credential)),
      Effect.catchTag("ReauthorizationRequiredError", (e) =>
        Effect.as(Effect.logInfo(`${self.name} authorization required again (${e.reason})`), Option.none())),
      Effect.catchAll((e) =>
        Effect.fail(
          new CredentialError.InvalidCredentialError({
            variable: `${self.name} authorization`,
            reason: e._tag === "StoreError" || e._tag === "DecryptionError" ? "the credential store failed; try again." : e.message
          })
        )
      )
    )

  /** The callback's result: the stored token, or the reason it ended without one. */
  const finish = (subject: string, result: PendingResult) =>
    Effect.gen(function*() {
      if (result.status !== "stored") return yield* notCompleted(reasons.find((r) => r === result.reason) ?? "failed")
      const fresh = yield* current(subject)
      if (Option.isNone(fresh)) return yield* notCompleted("failed")
      return fresh.value
    })

  const spec: ElicitationFlow.FlowSpec<
    AuthorizationUnavailableError | AuthorizationNotCompletedError | AuthorizationRequiredError | CredentialError.InvalidCredentialError
  > = {
    name: self.name,
    title: self.title,
    pendingProvider: pendingProviderOf(self),
    timeout: self.timeout,
    mode,
    current,
    finish,
    link: (pendingId) => startUrl(self, options, pendingId),
    // the seed's texts: "Return here when done." only where the call waits
    message: (label, mode) =>
      `${self.title} authorization required for '${label}'.\nOpen the link, sign in, and grant access.${
        mode === "blocking" ? "\nReturn here when done." : ""
      }`,
    requiredMessage: `${self.title} authorization required.`,
    logs: { requested: "authorization requested", timedOut: "timeout waiting for the authorization" },
    notDone: notCompleted,
    required: () => new AuthorizationRequiredError({ provider: self.name, title: self.title, connectUrl: connectUrl(self, options) }),
    unavailable
  }
  return ElicitationFlow.make(spec, pending, elicitation)
}

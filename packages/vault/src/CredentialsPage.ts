/**
 * The pages where a user enters a provider's credentials, served on the MCP server's router
 * (`McpHttpServer`'s `routes` option): `GET <basePath>/<name>/entry?t=…` (the one-time link of an
 * elicitation), `POST <basePath>/<name>/submit?t=…`, `GET <basePath>/<name>/connect` (for clients
 * without URL elicitation: sign in, then a fresh form) and `GET <basePath>/callback` (the sign-in).
 *
 * **Identity binding.** A link is never enough: before the form is shown, the browser signs in
 * with OpenID Connect (authorization code + PKCE S256, `state`, `nonce`) at the identity provider
 * that issues the MCP access tokens, and the id_token's `sub` (verified with `jose` against the
 * provider's JWKS) must equal the user the elicitation was made for. Anyone else — a colleague the
 * link was forwarded to, a phisher — gets a refusal page. The sign-in is kept in a server-side
 * session (PendingStore, so it works on every replica) behind an HttpOnly, SameSite=Lax cookie
 * scoped to `basePath`.
 *
 * **The form.** Generated from the provider's variables; the Markdown guide is rendered on the
 * server (markdown-it, raw HTML off) and sanitised (sanitize-html); every value is escaped; a
 * CSRF token from the session; `Content-Security-Policy` without any script,
 * `frame-ancestors 'none'`, `Referrer-Policy: no-referrer`, `Cache-Control: no-store`. Required
 * fields and the provider's `validate` are checked before the link is used up, so a mistake can
 * be corrected. On success the credential is stored encrypted with its TTL and the pending entry
 * is completed, which wakes the waiting tool call on whichever replica holds it.
 *
 * @since 0.1.0
 */
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { ResolvedCredential } from "@mcp-credentials/core"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { CredentialStore } from "./CredentialStore.js"
import * as CredentialsProvider from "./CredentialsProvider.js"
import { Elicitation } from "./Elicitation.js"
import * as Html from "./internal/html.js"
import { isHttpUrl } from "./internal/oauthHttp.js"
import * as Oidc from "./internal/oidc.js"
import * as PageSession from "./internal/pageSession.js"
import { type PendingEntry, PendingStore } from "./PendingStore.js"

/**
 * The OpenID Connect client the pages sign users in with: a confidential client registered at
 * the identity provider that issues the MCP access tokens, with redirect URI
 * `<baseUrl><basePath>/callback`.
 *
 * @since 0.1.0
 * @category models
 */
export interface OidcOptions {
  /** The issuer; `<issuer>/.well-known/openid-configuration` is read once. */
  readonly issuer: string
  readonly clientId: string
  readonly clientSecret: Redacted.Redacted<string>
  /** Default `["openid"]`. */
  readonly scopes?: ReadonlyArray<string> | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The server's public origin, as in `CredentialsProvider.layer`. */
  readonly baseUrl: string
  /** Default `/credentials`. */
  readonly basePath?: string | undefined
  readonly providers: ReadonlyArray<CredentialsProvider.CredentialsProvider>
  readonly oidc: OidcOptions
  /** How long a browser sign-in lasts. Default 15 minutes. */
  readonly sessionTtl?: Duration.DurationInput | undefined
  /** How long a sign-in may take at the identity provider. Default 10 minutes. */
  readonly loginTtl?: Duration.DurationInput | undefined
}

/**
 * The name of the session cookie (on https `__Host-mcpc_session`, with `Path=/`).
 *
 * @since 0.1.0
 * @category constants
 */
export const sessionCookie = "mcpc_session"

/**
 * The name of the cookie that binds a sign-in to the browser that started it (on https
 * `__Host-mcpc_login`, with `Path=/`).
 *
 * @since 0.1.0
 * @category constants
 */
export const loginCookie = "mcpc_login"

/**
 * The redirect URI to register at the identity provider.
 *
 * @since 0.1.0
 * @category accessors
 */
export const redirectUri = (options: { readonly baseUrl: string; readonly basePath?: string | undefined }): string =>
  PageSession.callbackUri(options.baseUrl, basePathOf(options))

/** The largest form body read (a few fields and a CSRF token; a PEM key fits). */
const maxFormBytes = 64 * 1024

/** Whether reading a body failed at the size limit (the Node reader's error). */
const isTooLarge = (e: { readonly cause?: unknown }): boolean =>
  e.cause instanceof Error && /maxBytes/.test(e.cause.message)

/**
 * The pages as a router, for `McpHttpServer`'s `routes` (or `HttpRouter.concat` with yours).
 * Each provider is checked (`CredentialsProvider.check`) first: an invalid one throws its
 * `ProviderConfigError` here, when the router is built.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (options: Options): HttpRouter.HttpRouter<never, CredentialStore | PendingStore | Elicitation> => {
  for (const provider of options.providers) {
    const checked = Effect.runSync(Effect.either(CredentialsProvider.check(provider)))
    if (checked._tag === "Left") throw checked.left
  }
  const basePath = basePathOf(options)
  const sessionTtl = Duration.decode(options.sessionTtl ?? Duration.minutes(15))
  const { cookies, oidc, origin, secure, sessionOf, startLogin } = PageSession.forPages({
    baseUrl: options.baseUrl,
    basePath,
    oidc: options.oidc,
    cookieNames: { session: sessionCookie, login: loginCookie },
    loginTtl: options.loginTtl
  })
  const cookieOptions = (maxAge: Duration.Duration) => ({ httpOnly: true, sameSite: "lax" as const, path: cookies.path, secure, maxAge })

  // -- responses ------------------------------------------------------------------------------
  const html = Html.respond
  const fail = (status: number, message: string, provider?: CredentialsProvider.CredentialsProvider) =>
    html(status, (nonce) => Html.errorPage(nonce, provider?.title, message))
  const redirect = (location: string) =>
    HttpServerResponse.redirect(location, {
      status: 302,
      headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" }
    })

  // -- request parts --------------------------------------------------------------------------
  const query = (request: HttpServerRequest.HttpServerRequest, name: string): string | undefined => {
    const value = new URL(request.url, "http://local").searchParams.get(name)
    return value === null || value === "" ? undefined : value
  }
  const tokenShape = PageSession.tokenShape

  const pendingEntryOf = (provider: CredentialsProvider.CredentialsProvider, t: string | undefined) =>
    Effect.gen(function*() {
      if (t === undefined || !tokenShape.test(t)) return Option.none<PendingEntry>()
      const pending = yield* PendingStore
      const entry = yield* pending.get(t)
      return Option.filter(entry, (e) => e.provider === provider.name)
    })


  const userLabel = (session: PendingEntry) => {
    const label = session.data.label
    return typeof label === "string" && label !== "" ? label : session.subject
  }

  const pathAndQuery = (request: HttpServerRequest.HttpServerRequest) => {
    const url = new URL(request.url, "http://local")
    return `${url.pathname}${url.search}`
  }

  // -- handlers -------------------------------------------------------------------------------
  const entry = (provider: CredentialsProvider.CredentialsProvider) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const t = query(request, "t")
      if (t === undefined) return yield* fail(400, "Invalid or missing credential request token.", provider)
      const found = yield* pendingEntryOf(provider, t)
      if (Option.isNone(found)) return yield* fail(400, "Invalid or expired credential request.", provider)
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* startLogin(pathAndQuery(request))
      if (session.value.subject !== found.value.subject) {
        yield* Effect.logWarning(`${provider.name} credential link opened by another user: refused`)
        const switchUser = PageSession.switchUserPath(basePath, pathAndQuery(request), session.value)
        return yield* html(403, (nonce) =>
          Html.wrongUserPage(nonce, `Error — ${provider.title} Credentials`, wrongUserMessage(provider), switchUser))
      }
      const csrf = String(session.value.data.csrf ?? "")
      return yield* html(200, (nonce) =>
        Html.formPage(nonce, provider, submitAction(provider, t, basePath), csrf, userLabel(session.value)))
    })

  const submit = (provider: CredentialsProvider.CredentialsProvider) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const t = query(request, "t")
      if (t === undefined) return yield* fail(400, "Invalid or missing credential request token.", provider)
      const found = yield* pendingEntryOf(provider, t)
      if (Option.isNone(found)) return yield* fail(400, "Invalid or expired credential request.", provider)
      if (PageSession.fromAnotherSite(request, origin)) {
        return yield* fail(403, "The form was submitted from another site.", provider)
      }
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* fail(403, "Your sign-in has expired. Open the link again to sign in.", provider)
      if (session.value.subject !== found.value.subject) return yield* fail(403, wrongUserMessage(provider), provider)
      // a form of a few fields: a larger body is refused before (declared) or while (streamed) it is read
      const declared = Number(request.headers["content-length"] ?? "")
      if (Number.isFinite(declared) && declared > maxFormBytes) return yield* fail(413, "The form is too large.", provider)
      const read = yield* request.urlParamsBody.pipe(
        IncomingMessage.withMaxBodySize(Option.some(maxFormBytes)),
        Effect.either
      )
      if (read._tag === "Left") {
        return yield* isTooLarge(read.left)
          ? fail(413, "The form is too large.", provider)
          : fail(400, "The form could not be read.", provider)
      }
      const body = read.right
      const form = new Map<string, string>()
      for (const [k, v] of body) if (!form.has(k)) form.set(k, v)
      if (!PageSession.csrfMatches(session.value, form.get("_csrf"))) {
        return yield* fail(403, "The form has expired. Reload the page and try again.", provider)
      }
      const csrf = String(session.value.data.csrf)

      // validate before using the link up, so that a mistake can be corrected
      const values: Record<string, string> = {}
      const fieldErrors: Record<string, string> = {}
      for (const v of provider.variables) {
        const value = (form.get(v.name) ?? "").trim()
        values[v.name] = value
        if (v.required && value === "") fieldErrors[v.name] = `'${v.label}' is required.`
        else if (v.type === "url" && value !== "" && !isHttpUrl(value)) fieldErrors[v.name] = `'${v.label}' must be an http(s) URL.`
      }
      const label = userLabel(session.value)
      const again = (status: number, state: Html.FormState) =>
        html(status, (nonce) => Html.formPage(nonce, provider, submitAction(provider, t, basePath), csrf, label, state))
      if (Object.keys(fieldErrors).length > 0) {
        return yield* again(400, { values, fieldErrors, error: "Some fields need your attention." })
      }
      const credential = ResolvedCredential.StaticCredential.fromFields(values)
      if (Option.isSome(provider.validate)) {
        // suspended: a `validate` that throws before it returns its effect is a defect like any other
        const check = provider.validate.value
        const checked = yield* Effect.suspend(() => check(credential.fields)).pipe(
          Effect.map(() => undefined),
          Effect.catchAll((e) => Effect.succeed(e.message)),
          Effect.catchAllDefect(() => Effect.succeed("The credentials could not be checked. Try again."))
        )
        if (checked !== undefined) return yield* again(422, { values, error: checked })
      }

      // from taking the link to waking the call, one step a browser that goes away does not cut
      // short (it burnt the link and left the call waiting until its timeout); each part is bounded
      return yield* Effect.uninterruptible(Effect.gen(function*() {
        const pending = yield* PendingStore
        const taken = yield* pending.take(t)
        if (Option.isNone(taken)) return yield* fail(400, "Invalid or expired credential request.", provider)
        const store = yield* CredentialStore
        yield* store.set({ provider: provider.name, subject: taken.value.subject }, credential, { ttl: provider.ttl }).pipe(
          // the store is down: the link is put back for the rest of its life, so that the user can
          // submit again once it is back (the page says to try again later) and the call keeps waiting
          Effect.tapError(() =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              const left = DateTime.toEpochMillis(taken.value.expiresAt) - now
              const { id, provider, subject, data } = taken.value
              return left > 0 ? Effect.ignore(pending.create({ id, provider, subject, data }, Duration.millis(left))) : Effect.void
            }))
        )
        yield* pending.complete(t, { status: "stored" }, { ttl: provider.timeout })
        yield* PageSession.notifySubmitted(taken.value)
        yield* Effect.logInfo(`${provider.name} credentials stored`).pipe(
          Effect.annotateLogs({ fields: provider.variables.map((v) => v.name).join(",") })
        )
        return yield* html(200, (nonce) => Html.successPage(nonce, provider))
      }))
    })

  const connect = (provider: CredentialsProvider.CredentialsProvider) =>
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const session = yield* sessionOf(request)
      if (Option.isNone(session)) return yield* startLogin(CredentialsProvider.paths(provider, basePath).connect)
      const pending = yield* PendingStore
      const created = yield* pending.create(
        { provider: provider.name, subject: session.value.subject, data: { origin: "connect" } },
        provider.timeout
      )
      return redirect(`${CredentialsProvider.paths(provider, basePath).entry}?t=${encodeURIComponent(created.id)}`)
    })

  const callback = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const state = query(request, "state")
    if (state === undefined || !tokenShape.test(state)) return yield* fail(400, "Invalid sign-in response.")
    const pending = yield* PendingStore
    // checked before it is consumed: a state that is not a sign-in (an elicitation's id) or a
    // request from another browser must not burn the entry
    const found = yield* pending.get(state)
    if (Option.isNone(found) || found.value.provider !== PageSession.loginProvider) {
      return yield* fail(400, "The sign-in expired or was already used. Open the link again.")
    }
    const binding = request.cookies[cookies.login]
    if (binding === undefined || !Oidc.sameSecret(Oidc.s256(binding), String(found.value.data.binding ?? ""))) {
      return yield* fail(400, "The sign-in was not started in this browser. Open the link again.")
    }
    // single use from here on
    const tx = yield* pending.take(state)
    if (Option.isNone(tx)) return yield* fail(400, "The sign-in expired or was already used. Open the link again.")
    if (query(request, "error") !== undefined) return yield* fail(400, "The sign-in was refused at the identity provider.")
    const code = query(request, "code")
    if (code === undefined) return yield* fail(400, "Invalid sign-in response.")
    const claims = yield* oidc.finish({
      code,
      verifier: String(tx.value.data.verifier ?? ""),
      nonce: String(tx.value.data.nonce ?? "")
    }).pipe(Effect.either)
    if (claims._tag === "Left") {
      yield* Effect.logWarning(`Credential page sign-in failed: ${claims.left.message}`)
      return yield* fail(400, "The sign-in could not be verified. Open the link again.")
    }
    const name = claims.right.preferred_username ?? claims.right.email ?? claims.right.name
    const session = yield* pending.create({
      provider: PageSession.sessionProvider,
      subject: claims.right.sub,
      data: { csrf: Oidc.randomToken(), label: typeof name === "string" ? name : claims.right.sub }
    }, sessionTtl)
    return redirect(PageSession.ownPath(basePath, String(tx.value.data.next ?? ""))).pipe(
      HttpServerResponse.unsafeSetCookie(cookies.session, session.id, cookieOptions(sessionTtl)),
      HttpServerResponse.unsafeSetCookie(cookies.login, "", cookieOptions(Duration.zero))
    )
  })

  // the wrong-user page's link: the browser's session ends here (its CSRF token proves the link
  // came from our page, so a page elsewhere cannot sign it out), and the identity provider is
  // asked for a new sign-in (`prompt=login`: its own session would sign the same user in again);
  // then back to `next`, one of our pages
  const switchUser = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const session = yield* sessionOf(request)
    if (Option.isSome(session)) {
      if (!PageSession.csrfMatches(session.value, query(request, "_csrf"))) {
        return yield* fail(403, "The page has expired. Open the link again.")
      }
      const pending = yield* PendingStore
      yield* pending.take(session.value.id)
    }
    const login = yield* startLogin(PageSession.ownPath(basePath, query(request, "next") ?? ""), { prompt: "login" })
    return login.pipe(HttpServerResponse.unsafeSetCookie(cookies.session, "", cookieOptions(Duration.zero)))
  })

  // store and IdP failures: a generic page, the detail in the log
  const guard = <E, R>(
    handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
    provider?: CredentialsProvider.CredentialsProvider
  ) =>
    handler.pipe(
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.logError(`Credential page failed: ${(e as { message?: string }).message ?? "error"}`),
          fail(503, "The credential service is unavailable right now. Try again later.", provider)
        )
      )
    )

  let r: HttpRouter.HttpRouter<never, CredentialStore | PendingStore | Elicitation> = HttpRouter.empty.pipe(
    HttpRouter.get(`${basePath}/callback` as HttpRouter.PathInput, guard(callback)),
    HttpRouter.get(`${basePath}/switch-user` as HttpRouter.PathInput, guard(switchUser))
  )
  for (const provider of options.providers) {
    const p = CredentialsProvider.paths(provider, basePath)
    r = r.pipe(
      HttpRouter.get(p.entry as HttpRouter.PathInput, guard(entry(provider), provider)),
      HttpRouter.post(p.submit as HttpRouter.PathInput, guard(submit(provider), provider)),
      HttpRouter.get(p.connect as HttpRouter.PathInput, guard(connect(provider), provider))
    )
  }
  return r
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const basePathOf = (options: { readonly basePath?: string | undefined }) =>
  (options.basePath ?? CredentialsProvider.defaultBasePath).replace(/\/+$/, "")

const submitAction = (provider: CredentialsProvider.CredentialsProvider, t: string, basePath?: string) =>
  `${CredentialsProvider.paths(provider, basePath).submit}?t=${encodeURIComponent(t)}`

const wrongUserMessage = (provider: CredentialsProvider.CredentialsProvider) =>
  `This ${provider.title} credential request was made for a different user than the one you signed in as. ` +
  `Only the user who asked for it can complete it. If that is you under another account, sign out below and sign in as that user.`


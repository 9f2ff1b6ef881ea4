/**
 * The browser sign-in shared by the credential pages (`CredentialsPage`) and the OAuth
 * authorization pages (`OAuthAuthorization`): the PendingStore "providers" of a sign-in in
 * progress and of a signed-in session, the shape of the random ids in links and cookies, reading
 * the session of a request, and sending the browser to the identity provider. The identity
 * provider's callback is served by `CredentialsPage.router` only.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Oidc from "./oidc.js"
import { Elicitation } from "../Elicitation.js"
import { type PendingEntry, PendingStore } from "../PendingStore.js"
import * as Deadline from "./deadline.js"

/** @internal */
export const sessionProvider = "__session"

/** @internal */
export const loginProvider = "__login"

/** @internal */
export const tokenShape = /^[A-Za-z0-9_-]{20,128}$/

/**
 * Whether a form was posted from another site: an `Origin` other than the pages' own (none, or
 * `null`, passes: older browsers and privacy modes send no usable one; the CSRF token decides).
 * @internal
 */
export const fromAnotherSite = (request: HttpServerRequest.HttpServerRequest, pagesOrigin: string): boolean => {
  const origin = request.headers["origin"]
  return origin !== undefined && origin !== "null" && origin !== pagesOrigin
}

/** Whether `sent` is the CSRF token of the signed-in `session` (compared in constant time). @internal */
export const csrfMatches = (session: PendingEntry, sent: string | undefined): boolean => {
  const csrf = String(session.data.csrf ?? "")
  return csrf !== "" && Oidc.sameSecret(sent ?? "", csrf)
}

/** How many cookies named `name` a Cookie header carries. */
const countCookies = (header: string | undefined, name: string): number => {
  if (header === undefined) return 0
  let n = 0
  for (const part of header.split(";")) if (part.trimStart().startsWith(`${name}=`)) n++
  return n
}

/**
 * The cookies of the sign-in. On https they are `__Host-` cookies (Secure, Path=/, no Domain): a
 * sibling subdomain or a plain-http page on the same host cannot plant one (a planted session
 * cookie would sign the browser in as its planter); on plain http (a local deployment) they are
 * scoped to the pages' path.
 * @internal
 */
export const cookiesOf = (
  names: { readonly session: string; readonly login: string },
  basePath: string,
  secure: boolean
): { readonly session: string; readonly login: string; readonly path: string } =>
  secure
    ? { session: `__Host-${names.session}`, login: `__Host-${names.login}`, path: "/" }
    : { session: names.session, login: names.login, path: basePath }

/** @internal */
export const make = (options: {
  readonly oidc: ReturnType<typeof Oidc.makeClient>
  /** The cookies' names and path (`cookiesOf`). */
  readonly cookies: ReturnType<typeof cookiesOf>
  readonly secure: boolean
  readonly loginTtl: Duration.Duration
}) => {
  const { login: loginCookie, path: cookiePath, session: sessionCookie } = options.cookies
  /** The signed-in session of the request's browser, if any. */
  const sessionOf = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const id = request.cookies[sessionCookie]
      if (id === undefined || !tokenShape.test(id)) return Option.none<PendingEntry>()
      // two session cookies: one was planted (a sibling subdomain, or plain http on this host, can
      // set one with a longer path, which the browser sends first): neither is trusted
      if (countCookies(request.headers["cookie"], sessionCookie) > 1) {
        yield* Effect.logWarning("A request carried more than one session cookie; it is treated as signed out")
        return Option.none<PendingEntry>()
      }
      const pending = yield* PendingStore
      return Option.filter(yield* pending.get(id), (e) => e.provider === sessionProvider)
    })

  /**
   * Sends the browser to the identity provider; `next` is where to come back (our own path).
   * `prompt: "login"` asks the identity provider for a new sign-in even if it has a session.
   */
  const startLogin = (next: string, params: { readonly prompt?: "login" | undefined } = {}) =>
    Effect.gen(function*() {
      const pending = yield* PendingStore
      const state = Oidc.randomToken()
      const nonce = Oidc.randomToken()
      const verifier = Oidc.randomToken()
      const binding = Oidc.randomToken()
      // the identity provider first: a request that cannot be sent there leaves nothing behind
      const url = yield* options.oidc.authorizationUrl({ state, nonce, verifier, prompt: params.prompt })
      yield* pending.create({
        id: state,
        provider: loginProvider,
        subject: "login",
        data: { nonce, verifier, next, binding: Oidc.s256(binding) }
      }, options.loginTtl)
      return HttpServerResponse.redirect(url, {
        status: 302,
        headers: { "cache-control": "no-store", "referrer-policy": "no-referrer" }
      }).pipe(
        HttpServerResponse.unsafeSetCookie(loginCookie, binding, {
          httpOnly: true,
          sameSite: "lax",
          path: cookiePath,
          secure: options.secure,
          maxAge: options.loginTtl
        })
      )
    })

  return { sessionOf, startLogin } as const
}

/**
 * The link of a wrong-user page that signs the browser out of the pages and asks the identity
 * provider for a new sign-in (`prompt=login`), then returns to `next` (served by
 * `CredentialsPage.router` at `<basePath>/switch-user`). It carries the session's CSRF token, so
 * a page elsewhere cannot sign the browser out; the session ends when it is used.
 * @internal
 */
export const switchUserPath = (basePath: string, next: string, session: PendingEntry): string =>
  `${basePath}/switch-user?next=${encodeURIComponent(next)}&_csrf=${encodeURIComponent(String(session.data.csrf ?? ""))}`

/** The sign-in's redirect URI: `<baseUrl><basePath>/callback` (`basePath` without a trailing slash). @internal */
export const callbackUri = (baseUrl: string, basePath: string): string => `${baseUrl.replace(/\/+$/, "")}${basePath}/callback`

/**
 * Everything a router of the pages needs to sign a browser in, from its options: the
 * `baseUrl`'s origin, whether it is https, the cookies, the OpenID client (redirect URI
 * `<baseUrl><basePath>/callback`, served by `CredentialsPage.router`), `sessionOf` and `startLogin`.
 * @internal
 */
export const forPages = (options: {
  readonly baseUrl: string
  /** Already without a trailing slash. */
  readonly basePath: string
  readonly oidc: {
    readonly issuer: string
    readonly clientId: string
    readonly clientSecret: Redacted.Redacted<string>
    readonly scopes?: ReadonlyArray<string> | undefined
  }
  readonly cookieNames: { readonly session: string; readonly login: string }
  readonly loginTtl?: Duration.DurationInput | undefined
}) => {
  const base = new URL(options.baseUrl)
  const secure = base.protocol === "https:"
  const loginTtl = Duration.decode(options.loginTtl ?? Duration.minutes(10))
  const oidc = Oidc.makeClient({
    issuer: options.oidc.issuer,
    clientId: options.oidc.clientId,
    clientSecret: options.oidc.clientSecret,
    scopes: options.oidc.scopes ?? ["openid"],
    redirectUri: callbackUri(options.baseUrl, options.basePath)
  })
  const cookies = cookiesOf(options.cookieNames, options.basePath, secure)
  return { origin: base.origin, secure, loginTtl, oidc, cookies, ...make({ oidc, cookies, secure, loginTtl }) } as const
}

/** How long a page waits to tell the waiting session that its form was submitted. */
const submittedTimeout = Duration.seconds(5)

/**
 * Tells the session waiting on `entry` that its page stored what was asked (a notification
 * through its transport), within a bound: the pages call it in a step that must not be cut
 * short, and answer the browser anyway.
 * @internal
 */
export const notifySubmitted = (entry: PendingEntry): Effect.Effect<void, never, Elicitation> =>
  Deadline.within(Effect.flatMap(Elicitation, (e) => e.submitted(entry)), submittedTimeout, () => "timeout" as const).pipe(
    Effect.catchAll(() => Effect.logWarning("The session could not be told in time that the form was submitted"))
  )

/**
 * `next` when it is one of our own paths — under the base path, and nothing a browser reads as
 * another host: no backslash (a slash to it), no control character (it drops tabs and line
 * breaks: `/\t/host`), and resolved it stays on our origin — else the base path.
 * @internal
 */
export const ownPath = (basePath: string, next: string): string => {
  const fallback = `${basePath}/`
  if (!next.startsWith(fallback) || next.startsWith("//") || /[\\\x00-\x20\x7f]/.test(next)) return fallback
  try {
    const origin = "http://own.invalid"
    const resolved = new URL(next, origin)
    return resolved.origin === origin && resolved.pathname.startsWith(fallback) ? next : fallback
  } catch {
    return fallback
  }
}

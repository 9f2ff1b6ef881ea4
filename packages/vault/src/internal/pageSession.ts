/**
 * The browser sign-in shared by the credential pages (`CredentialsPage`) and the OAuth
 * authorization pages (`OAuthAuthorization`): the PendingStore "providers" of a sign-in in
 * progress and of a signed-in session, the shape of the random ids in links and cookies, reading
 * the session of a request, and sending the browser to the identity provider. The identity
 * provider's callback is served by `CredentialsPage.router` only.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Oidc from "./oidc.js"
import { type PendingEntry, PendingStore } from "../PendingStore.js"

/** @internal */
export const sessionProvider = "__session"

/** @internal */
export const loginProvider = "__login"

/** @internal */
export const tokenShape = /^[A-Za-z0-9_-]{20,128}$/

/** @internal */
export const make = (options: {
  readonly oidc: ReturnType<typeof Oidc.makeClient>
  /** The cookies' path (the pages' `basePath`, no trailing slash). */
  readonly basePath: string
  readonly secure: boolean
  readonly loginTtl: Duration.Duration
  readonly sessionCookie: string
  readonly loginCookie: string
}) => {
  /** The signed-in session of the request's browser, if any. */
  const sessionOf = (request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const id = request.cookies[options.sessionCookie]
      if (id === undefined || !tokenShape.test(id)) return Option.none<PendingEntry>()
      const pending = yield* PendingStore
      return Option.filter(yield* pending.get(id), (e) => e.provider === sessionProvider)
    })

  /** Sends the browser to the identity provider; `next` is where to come back (our own path). */
  const startLogin = (next: string) =>
    Effect.gen(function*() {
      const pending = yield* PendingStore
      const state = Oidc.randomToken()
      const nonce = Oidc.randomToken()
      const verifier = Oidc.randomToken()
      const binding = Oidc.randomToken()
      // the identity provider first: a request that cannot be sent there leaves nothing behind
      const url = yield* options.oidc.authorizationUrl({ state, nonce, verifier })
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
        HttpServerResponse.unsafeSetCookie(options.loginCookie, binding, {
          httpOnly: true,
          sameSite: "lax",
          path: options.basePath,
          secure: options.secure,
          maxAge: options.loginTtl
        })
      )
    })

  return { sessionOf, startLogin } as const
}

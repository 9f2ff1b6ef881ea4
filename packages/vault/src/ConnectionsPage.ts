/**
 * A signed-in user's own page of connections, `GET <basePath>/`: each credential provider
 * (`CredentialsProvider`) and OAuth authorization (`OAuthAuthorization`) of the server, whether
 * the user has one stored (since when, until when), a link to connect or replace it, and a
 * button to disconnect it (`POST <basePath>/disconnect`): the record is deleted, and an OAuth
 * grant is first revoked at the provider (`OAuthAuthorization.disconnect`). Nothing stored is
 * ever shown: no secret, no field value.
 *
 * The page signs the browser in like the credential pages (the same session and cookies:
 * mount `CredentialsPage.router` with the same `baseUrl`, `basePath` and `oidc`, which serves the
 * sign-in callback and sends the browser here after a sign-in without another destination). The
 * form carries the session's CSRF token and is refused from another site.
 *
 * ```ts
 * routes: HttpRouter.concat(
 *   HttpRouter.concat(CredentialsPage.router({ baseUrl, providers: [jira], oidc }),
 *     OAuthAuthorization.router({ baseUrl, authorizations: [github], oidc })),
 *   ConnectionsPage.router({ baseUrl, providers: [jira], authorizations: [github], oidc })
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as IncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { CredentialStore } from "./CredentialStore.js"
import * as CredentialsPage from "./CredentialsPage.js"
import * as CredentialsProvider from "./CredentialsProvider.js"
import * as Html from "./internal/html.js"
import * as PageSession from "./internal/pageSession.js"
import * as OAuthAuthorization from "./OAuthAuthorization.js"
import { PendingStore } from "./PendingStore.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The server's public origin, as in `CredentialsPage.router`. */
  readonly baseUrl: string
  /** Default `/credentials`: must be `CredentialsPage.router`'s, which serves the sign-in callback. */
  readonly basePath?: string | undefined
  /** The credential providers listed (PATs, API keys). */
  readonly providers?: ReadonlyArray<CredentialsProvider.CredentialsProvider> | undefined
  /** The OAuth authorizations listed (their connect pages are `OAuthAuthorization.router`'s). */
  readonly authorizations?: ReadonlyArray<OAuthAuthorization.OAuthAuthorization> | undefined
  /** The identity provider's client: the same as `CredentialsPage.router`'s `oidc`. */
  readonly oidc: CredentialsPage.OidcOptions
  /** How long a sign-in at the identity provider may take. Default 10 minutes. */
  readonly loginTtl?: Duration.DurationInput | undefined
}

/** One row of the page. */
interface Connection {
  readonly name: string
  readonly title: string
  readonly connectPath: string
  /** Deletes the user's record (revoking an OAuth grant first): whether there was one. */
  readonly disconnect: (subject: string) => Effect.Effect<boolean, unknown, CredentialStore>
}

/** What the page shows of a stored record: never a value. */
type Status =
  | { readonly _tag: "none" }
  | { readonly _tag: "stored"; readonly createdAt: DateTime.Utc; readonly expiresAt: Option.Option<DateTime.Utc> }
  | { readonly _tag: "unreadable" }

/**
 * The page and its disconnect action as a router, to concatenate with `CredentialsPage.router`.
 * Throws when two listed connections share a name.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = (options: Options): HttpRouter.HttpRouter<never, CredentialStore | PendingStore> => {
  const basePath = (options.basePath ?? CredentialsProvider.defaultBasePath).replace(/\/+$/, "")
  const connections: Array<Connection> = [
    ...(options.providers ?? []).map((p): Connection => ({
      name: p.name,
      title: p.title,
      connectPath: CredentialsProvider.paths(p, basePath).connect,
      disconnect: (subject) => Effect.flatMap(CredentialStore, (store) => store.delete({ provider: p.name, subject }))
    })),
    ...(options.authorizations ?? []).map((a): Connection => ({
      name: a.name,
      title: a.title,
      connectPath: OAuthAuthorization.paths(a, basePath).connect,
      disconnect: (subject) => Effect.map(OAuthAuthorization.disconnect(a, subject), (r) => r.removed)
    }))
  ]
  const names = new Set<string>()
  for (const c of connections) {
    if (names.has(c.name)) throw new Error(`ConnectionsPage: two connections are named '${c.name}'`)
    names.add(c.name)
  }
  // the sign-in and session of the credential pages (CredentialsPage serves the callback)
  const { origin, sessionOf, startLogin } = PageSession.forPages({
    baseUrl: options.baseUrl,
    basePath,
    oidc: options.oidc,
    cookieNames: { session: CredentialsPage.sessionCookie, login: CredentialsPage.loginCookie },
    loginTtl: options.loginTtl
  })
  const indexPath = `${basePath}/`
  const disconnectPath = `${basePath}/disconnect`

  const html = Html.respond
  const fail = (status: number, message: string) => html(status, (nonce) => Html.errorPage(nonce, undefined, message))

  const statusOf = (subject: string, c: Connection) =>
    Effect.flatMap(CredentialStore, (store) => store.get({ provider: c.name, subject })).pipe(
      Effect.map((found): Status =>
        Option.isNone(found)
          ? { _tag: "none" }
          : { _tag: "stored", createdAt: found.value.createdAt, expiresAt: found.value.expiresAt }
      ),
      // sealed with a retired key: it exists, and can still be disconnected
      Effect.catchTag("DecryptionError", () => Effect.succeed<Status>({ _tag: "unreadable" }))
    )

  const render = (subject: string, label: string, csrf: string, notice?: string) =>
    Effect.gen(function*() {
      const rows = yield* Effect.forEach(connections, (c) => Effect.map(statusOf(subject, c), (status) => ({ c, status })))
      return yield* html(200, (nonce) => connectionsPage(nonce, { label, csrf, disconnectPath, rows, notice }))
    })

  const index = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const session = yield* sessionOf(request)
    if (Option.isNone(session)) return yield* startLogin(indexPath)
    return yield* render(session.value.subject, labelOf(session.value), String(session.value.data.csrf ?? ""))
  })

  const disconnect = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (PageSession.fromAnotherSite(request, origin)) return yield* fail(403, "The form was submitted from another site.")
    const session = yield* sessionOf(request)
    if (Option.isNone(session)) return yield* fail(403, "Your sign-in has expired. Open the page again to sign in.")
    const read = yield* request.urlParamsBody.pipe(IncomingMessage.withMaxBodySize(Option.some(maxFormBytes)), Effect.either)
    if (read._tag === "Left") return yield* fail(400, "The form could not be read.")
    const form = new Map<string, string>()
    for (const [k, v] of read.right) if (!form.has(k)) form.set(k, v)
    if (!PageSession.csrfMatches(session.value, form.get("_csrf"))) {
      return yield* fail(403, "The form has expired. Reload the page and try again.")
    }
    const connection = connections.find((c) => c.name === form.get("connection"))
    if (connection === undefined) return yield* fail(400, "Unknown connection.")
    const subject = session.value.subject
    const removed = yield* connection.disconnect(subject)
    if (removed) yield* Effect.logInfo(`${connection.name} disconnected by its user on the connections page`)
    return yield* render(
      subject,
      labelOf(session.value),
      String(session.value.data.csrf ?? ""),
      removed ? `${connection.title} disconnected.` : `${connection.title} was not connected.`
    )
  })

  // store and identity provider failures: a generic page, the detail in the log
  const guard = <E, R>(handler: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
    handler.pipe(
      Effect.catchAll((e) =>
        Effect.zipRight(
          Effect.logError(`Connections page failed: ${(e as { message?: string }).message ?? "error"}`),
          fail(503, "The credential service is unavailable right now. Try again later.")
        )
      )
    )

  return HttpRouter.empty.pipe(
    HttpRouter.get(indexPath as HttpRouter.PathInput, guard(index)),
    HttpRouter.post(disconnectPath as HttpRouter.PathInput, guard(disconnect))
  )
}

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

const maxFormBytes = 8 * 1024

const labelOf = (session: { readonly subject: string; readonly data: Readonly<Record<string, unknown>> }) => {
  const label = session.data.label
  return typeof label === "string" && label !== "" ? label : session.subject
}

const day = (d: DateTime.Utc) => DateTime.formatIso(d).slice(0, 10)

const connectionsPage = (
  nonce: string,
  page: {
    readonly label: string
    readonly csrf: string
    readonly disconnectPath: string
    readonly rows: ReadonlyArray<{ readonly c: Connection; readonly status: Status }>
    readonly notice?: string | undefined
  }
): string => {
  const e = Html.escape
  const rows = page.rows.map(({ c, status }) => {
    const id = `c-${e(c.name)}`
    const state = status._tag === "none"
      ? `<span class="status" id="${id}-status">Not connected</span>`
      : status._tag === "unreadable"
      ? `<span class="status" id="${id}-status">Stored, but it can no longer be opened: connect again</span>`
      : `<span class="status" id="${id}-status">Connected since ${e(day(status.createdAt))}` +
        (Option.isSome(status.expiresAt) ? `, until ${e(day(status.expiresAt.value))}` : "") + `</span>`
    const connect = `<a id="${id}-connect" href="${e(c.connectPath)}">${status._tag === "none" ? "Connect" : "Connect again"}</a>`
    const disconnect = status._tag === "none"
      ? ""
      : `<form method="post" action="${e(page.disconnectPath)}"><input type="hidden" name="_csrf" value="${e(page.csrf)}">` +
        `<input type="hidden" name="connection" value="${e(c.name)}"><button type="submit" id="${id}-disconnect">Disconnect</button></form>`
    return `<tr id="${id}"><td>${e(c.title)}</td><td>${state}</td><td>${connect}${disconnect}</td></tr>`
  }).join("")
  return Html.page(
    nonce,
    "Your connections",
    `<h1>Your connections</h1>` +
      `<p class="sub">Signed in as <strong id="user">${e(page.label)}</strong>. ` +
      `What you connect is stored encrypted on the MCP server and is never shown to the AI assistant, nor here.</p>` +
      (page.notice === undefined ? "" : `<p class="notice" id="notice" role="status">${e(page.notice)}</p>`) +
      (page.rows.length === 0
        ? `<p>This server has no connections to offer.</p>`
        : `<table id="connections"><thead><tr><th>Service</th><th>Status</th><th></th></tr></thead><tbody>${rows}</tbody></table>`)
  )
}

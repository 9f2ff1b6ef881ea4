/**
 * Serves v2 `McpServer`s (`@modelcontextprotocol/server`) with the SDK's `createMcpHandler` on the
 * `@effect/platform` HTTP router, with the same options as `McpHttpServer` (v1): `authenticate`,
 * `insufficientScope`, `routes`, Host/Origin checking. Every request gets its own server (the
 * 2026-07-28 protocol is stateless); 2025-era clients are served by the SDK's stateless legacy
 * fallback unless `legacy: "reject"`.
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import {
  type AuthInfo,
  createMcpHandler,
  type CreateMcpHandlerOptions,
  isLegacyRequest,
  type McpRequestContext,
  type McpServer
} from "@modelcontextprotocol/server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type { IncomingMessage, ServerResponse } from "node:http"
import { CallStorage } from "@mcp-credentials/core"
import * as ComponentScopes from "./internal/componentScopes.js"
import * as Http from "./internal/http.js"
import { isPromiseLike } from "./internal/runner.js"
import * as Serve from "./internal/serve.js"
import { installationOf } from "./McpCredentialsV2.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<R, RR = never> {
  /**
   * Builds a server; called once per request (the SDK's `McpRequestContext` says which era and
   * caller). Install the credentials integration on it with the given runtime:
   * `McpCredentialsV2.install(server, { runtime })`.
   */
  readonly server: (runtime: Runtime.Runtime<R>, context: McpRequestContext) => McpServer | Promise<McpServer>
  /** The MCP endpoint. Default `/mcp`. */
  readonly path?: string | undefined
  /**
   * Host names accepted in `Host` and `Origin`. Default: `localhost`, `127.0.0.1` and `[::1]` when
   * bound to a loopback address (`layer`), otherwise no check. `"any"` turns the check off.
   */
  readonly allowedHosts?: ReadonlyArray<string> | "any" | undefined
  /**
   * Origins (`scheme://host[:port]`) accepted in `Origin`, matched exactly, e.g.
   * `["https://app.example.com"]` (no wildcards). A request without `Origin` passes — non-browser
   * clients, and browsers' same-origin `GET`/`HEAD` — so keep `allowedHosts` for DNS-rebinding
   * protection: `Host` is still checked against it. Default: the `Origin`'s host name is checked
   * against `allowedHosts`, whatever its scheme and port. An entry that is not an origin is a
   * defect (`InvalidOptionError`) when the handler is built.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /**
   * Answer browsers' cross-origin requests (CORS) from the origins `allowedOrigins` (or
   * `allowedHosts`) accepts: preflights get 204, answers name the origin and expose
   * `Mcp-Session-Id`, `Mcp-Protocol-Version` and `WWW-Authenticate`, for web-based MCP clients
   * (the MCP Inspector's direct connection). Needs `allowedOrigins` or `allowedHosts` (with
   * neither, every web page could call the server: `InvalidOptionError`). Default `false`.
   */
  readonly cors?: boolean | undefined
  /**
   * Header prefixes of credential backends outside the `X-MCP-Cred-` family (a Header backend
   * with `prefix: "X-Jira-"`): a request that repeats one of their headers gets 400, as for
   * `X-MCP-Cred-*` (Node joins repeats into one value). Give the same list as the install's
   * `credentialHeaderPrefixes`.
   */
  readonly credentialHeaderPrefixes?: ReadonlyArray<string> | undefined
  /**
   * 2025-era (`initialize`) clients: `"stateless"` (default) serves them with a server per
   * request; `"reject"` serves 2026-07-28 only.
   */
  readonly legacy?: "stateless" | "reject" | undefined
  /** Response shaping for 2026-07-28 exchanges (`"auto"` by default, see the SDK). */
  readonly responseMode?: CreateMcpHandlerOptions["responseMode"]
  /** Out-of-band errors and rejected requests, for reporting. */
  readonly onerror?: ((error: Error) => void) | undefined
  /**
   * Authenticates each request before MCP sees it: the caller's `AuthInfo` (it reaches tools as
   * `ctx.http.authInfo`), `undefined` for an anonymous request, or a `Response` to send instead.
   * `@mcp-credentials/auth`'s `McpAuth.authenticate` fits.
   */
  readonly authenticate?: ((request: Request) => Effect.Effect<Authentication, never, R>) | undefined
  /**
   * When set, a `tools/call` whose tool requires scopes the caller's token lacks is answered with
   * this response (HTTP 403 with `WWW-Authenticate: Bearer error="insufficient_scope"`) instead of
   * an `isError` result. `McpAuth.insufficientScope` fits.
   */
  readonly insufficientScope?: ((missing: ReadonlyArray<string>, request: Request) => Response) | undefined
  /**
   * More routes served beside the MCP endpoint (well-known documents, health checks, pages). Their
   * requirements (`RR`) are the served layer's, beside the authenticator's and tools' (`R`).
   */
  readonly routes?: HttpRouter.HttpRouter<never, RR> | undefined
}

/**
 * What an authenticator decides: the caller's `AuthInfo`, anonymous (`undefined`), or a response
 * to send instead.
 *
 * @since 0.1.0
 * @category models
 */
export type Authentication = AuthInfo | Response | undefined

/**
 * A web-standard handler: a `Request` in, a `Response` out.
 *
 * @since 0.1.0
 * @category models
 */
export type WebHandler = (request: Request, options?: { readonly authInfo?: AuthInfo | undefined }) => Promise<Response>

/**
 * The host names of a loopback bind.
 *
 * @since 0.1.0
 * @category constants
 */
export const localhostNames: ReadonlyArray<string> = Http.localhostNames

/**
 * An HTTP option that cannot be used (e.g. an `allowedOrigins` entry that is not an origin): the
 * handler dies with it when it is built. Its message names the option, never the value.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidOptionError = Http.InvalidOptionError

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidOptionError = Http.InvalidOptionError

/**
 * `layer` could not listen on `host:port`: its message names the address and the reason
 * (`EADDRINUSE`: another process has the port), and `code` is Node's error code.
 *
 * @since 0.1.0
 * @category errors
 */
export const ListenError = Http.ListenError

/**
 * @since 0.1.0
 * @category errors
 */
export type ListenError = Http.ListenError

/** A server built ahead of the SDK's factory call (to check scopes), handed to the factory. */
const prebuilt = CallStorage.make<{ server?: McpServer | undefined }>()

/**
 * Builds the web handler; the SDK handler is closed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeWebHandler = <R, RR = never>(
  options: Options<R, RR>
): Effect.Effect<WebHandler, never, R | Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<R>()
    const runAuth = options.authenticate === undefined ? undefined : Runtime.runPromise(runtime)
    // the servers the SDK is using (one per request), until each closes
    const live = new Set<McpServer>()
    const track = (server: McpServer): McpServer => {
      live.add(server)
      const previous = server.server.onclose
      server.server.onclose = () => {
        live.delete(server)
        previous?.()
      }
      // a server the SDK closes without having connected it (subscriptions/listen, its own
      // refusals) never calls onclose
      const close = server.close.bind(server)
      server.close = () => {
        live.delete(server)
        return close()
      }
      return server
    }
    const factory = (context: McpRequestContext) => {
      const slot = prebuilt.get()
      const server = slot?.server
      if (server !== undefined) {
        slot!.server = undefined
        return track(server)
      }
      const built = options.server(runtime, context)
      return isPromiseLike(built) ? Promise.resolve(built).then(track) : track(built)
    }
    const mcp = createMcpHandler(factory, {
      ...(options.legacy !== undefined ? { legacy: options.legacy } : {}),
      ...(options.responseMode !== undefined ? { responseMode: options.responseMode } : {}),
      ...(options.onerror !== undefined ? { onerror: options.onerror } : {})
    })
    // when the layer closes, the calls still running end (interrupted) before it is released
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        const open = Array.from(live)
        live.clear()
        await mcp.close().catch(() => undefined)
        await Promise.all(open.map((server) => server.close().catch(() => undefined)))
        await Promise.all(open.map((server) => installationOf(server)?.interruptCalls()))
      })
    )
    const guard = Http.guardEndpoint(options)

    /**
     * Refuses a tools/call, prompts/get or resources/read that requires scopes the token lacks,
     * when asked to: the server is built here (and handed to the SDK's factory call) so its
     * declarations can be read.
     */
    const checkScopes = async (
      request: Request,
      authInfo: AuthInfo | undefined
    ): Promise<{ readonly refused?: Response; readonly server?: McpServer; readonly body?: unknown }> => {
      if (options.insufficientScope === undefined || request.method !== "POST") return {}
      // capped like the SDK's own reader; what is too large or not JSON is answered here
      const read = await Http.readJsonBody(request.clone())
      if (read instanceof Response) return { refused: read }
      const body = read.body
      const messages: Array<any> = Array.isArray(body) ? body : [body]
      if (!messages.some((m) => ComponentScopes.guardedMethods.has(String(m?.method)))) return { body }
      const legacy = await isLegacyRequest(request, body).catch(() => false)
      const server = await options.server(runtime, {
        era: legacy ? "legacy" : "modern",
        ...(authInfo !== undefined ? { authInfo } : {}),
        requestInfo: request
      })
      const installation = installationOf(server)
      if (installation === undefined) return { server, body }
      for (const message of messages) {
        const missing = ComponentScopes.missingOf(installation.requiredFor(String(message?.method ?? ""), message?.params), authInfo?.scopes)
        if (missing.length > 0) {
          void server.close().catch(() => undefined)
          return { refused: options.insufficientScope(missing, request) }
        }
      }
      return { server, body }
    }

    const respond: WebHandler = async (request, opts) => {
      let authInfo = opts?.authInfo
      if (runAuth !== undefined && options.authenticate !== undefined) {
        const outcome = await runAuth(options.authenticate(request))
        if (outcome instanceof Response) return outcome
        if (outcome !== undefined) authInfo = outcome
      }
      const scoped = await checkScopes(request, authInfo)
      if (scoped.refused !== undefined) return scoped.refused
      const fetch = () =>
        mcp.fetch(request, {
          ...(authInfo !== undefined ? { authInfo } : {}),
          ...(scoped.body !== undefined ? { parsedBody: scoped.body } : {})
        })
      // only a request whose server was built ahead enters the storage (and Node's promise hooks)
      if (scoped.server === undefined) return fetch()
      const slot = { server: scoped.server }
      try {
        return await prebuilt.run(slot, fetch)
      } finally {
        // built but not used by the SDK (it answered before calling the factory)
        if (slot.server !== undefined) void slot.server.close().catch(() => undefined)
      }
    }
    return guard(respond)
  })

/**
 * A router with the MCP endpoint on `path` (all methods). Mount it beside your own routes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const router = <R, RR = never>(options: Options<R, RR>) =>
  Serve.router(makeWebHandler(options), options.path, options.routes, options.credentialHeaderPrefixes)

/**
 * Serves the MCP endpoint on the `HttpServer` in context.
 *
 * @since 0.1.0
 * @category layers
 */
export const serve = <R, RR = never>(options: Options<R, RR>): Layer.Layer<never, never, R | RR | HttpServer.HttpServer> =>
  Serve.serve(router(options))

/**
 * Serves the MCP endpoint on a Node HTTP server bound to `host:port` (default
 * `127.0.0.1:3000`). Host/Origin checking is on for loopback binds; another bind without
 * `allowedHosts` logs a warning that it is off (set `allowedHosts`, or `"any"` knowingly).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <R, RR = never>(
  options: Options<R, RR> & { readonly port?: number | undefined; readonly host?: string | undefined }
) => {
  const host = options.host ?? "127.0.0.1"
  return serve({ ...options, allowedHosts: Serve.allowedHostsFor(host, options.allowedHosts) }).pipe(
    Layer.provideMerge(Serve.boundServer("McpHttpServerV2", host, options.port, options.allowedHosts, options.allowedOrigins))
  )
}

/**
 * A plain Node `(req, res)` handler for Express or `node:http` apps. `req.auth` (set by an auth
 * middleware) reaches tools as `ctx.http.authInfo`. Call `close()` to close the SDK handler.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toNodeHandler = async <R, RR = never>(
  options: Options<R, RR> & { readonly runtime: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown> }
): Promise<{
  readonly handler: (req: IncomingMessage & { auth?: AuthInfo }, res: ServerResponse) => Promise<void>
  readonly close: () => Promise<void>
}> => Serve.toNodeHandler(options.runtime, makeWebHandler(options), options.credentialHeaderPrefixes)

/**
 * Routes served beside the MCP endpoint (`McpAuth.wellKnownRouter`, `CredentialsPage.router`,
 * `OAuthAuthorization.router`, your own `HttpRouter`) as a Node middleware for Express or
 * `node:http`, run with `runtime`'s services: a request a route matches is answered, any other
 * goes to `next` (404 without one). Mount it before body parsers:
 * `app.use(await McpHttpServerV2.toNodeMiddleware(McpAuth.wellKnownRouter({ resource }), runtime))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toNodeMiddleware: <E, R>(
  routes: HttpRouter.HttpRouter<E, R>,
  runtime: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown>
) => Promise<(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>> = Serve.toNodeMiddleware

/**
 * Serves `McpServer`s over Streamable HTTP with the SDK's web-standard transport: on the
 * `@effect/platform` HTTP router (Node server from `@effect/platform-node`), or as a plain Node
 * `(req, res)` handler for Express and `node:http` apps. Stateful sessions (a server per session)
 * or stateless mode (a server per request). Host and Origin are checked for loopback binds
 * (DNS-rebinding protection).
 *
 * @since 0.1.0
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { createHash, randomUUID } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as ComponentScopes from "./internal/componentScopes.js"
import * as Http from "./internal/http.js"
import * as Serve from "./internal/serve.js"
import { installationOf } from "./McpCredentials.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface Options<R, RR = never> {
  /**
   * Builds a server; called once per session (stateful) or per request (stateless). Install the
   * credentials integration on it with the given runtime:
   * `McpCredentials.install(server, { runtime })`.
   */
  readonly server: (runtime: Runtime.Runtime<R>) => McpServer | Promise<McpServer>
  /** The MCP endpoint. Default `/mcp`. */
  readonly path?: string | undefined
  /** A new server per request, no `Mcp-Session-Id`. Default `false`. */
  readonly stateless?: boolean | undefined
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
  /** Answer with JSON instead of an SSE stream. Always on in stateless mode. */
  readonly enableJsonResponse?: boolean | undefined
  /**
   * Authenticates each request before MCP sees it: the caller's `AuthInfo` (it reaches tools as
   * `extra.authInfo`), `undefined` for an anonymous request, or a `Response` to send instead
   * (401, 403). `@mcp-credentials/auth` provides one (`McpAuth.authenticate`).
   */
  readonly authenticate?: ((request: Request) => Effect.Effect<Authentication, never, R>) | undefined
  /**
   * When set, a `tools/call` whose tool requires scopes (`registerTool(…, { scopes })`) that the
   * caller's token lacks is answered with this response (HTTP 403 with
   * `WWW-Authenticate: Bearer error="insufficient_scope"`, so the client can step up) instead of
   * an `isError` result. `@mcp-credentials/auth` provides one (`McpAuth.insufficientScope`).
   */
  readonly insufficientScope?: ((missing: ReadonlyArray<string>, request: Request) => Response) | undefined
  /**
   * Stateful mode: a session without any request for this long is closed (clients often go away
   * without `DELETE`). Default 30 minutes; `Duration.infinity` keeps sessions until deleted.
   */
  readonly sessionIdleTimeout?: Duration.DurationInput | undefined
  /** Stateful mode: the most sessions open at once; a new `initialize` beyond it gets 503. Default 10,000. */
  readonly maxSessions?: number | undefined
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
 * A web-standard handler: a `Request` in, a `Response` out. `authInfo` (from your auth
 * middleware) reaches tools as `extra.authInfo`.
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

const jsonRpcError = Http.jsonRpcError

/** The SDK transport's answer to a method it does not serve, with the ones it does in `Allow`. */
const methodNotAllowed = (allow: string): Response => {
  const response = jsonRpcError(405, "Method not allowed.")
  response.headers.set("allow", allow)
  return response
}

/** Closes a server and waits for its tool calls to end (they are interrupted): none outlives the layer. */
const closeServer = async (server: McpServer): Promise<void> => {
  await server.close().catch(() => undefined)
  await installationOf(server)?.interruptCalls()
}

/**
 * Builds the web handler. Sessions live until the client deletes them, they stay idle for
 * `sessionIdleTimeout`, or the scope closes; each belongs to the caller that initialized it.
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
    // a session belongs to the caller that initialized it (client id and subject of its token; a
    // token without a subject, by the token itself: many users of one client may share a client
    // id; or anonymous): another caller presenting its id gets 404, as for an unknown session
    const principalOf = (authInfo: AuthInfo | undefined): string => {
      if (authInfo === undefined) return ""
      const sub = authInfo.extra?.sub
      return typeof sub === "string" && sub !== ""
        ? `sub\0${authInfo.clientId}\0${sub}`
        : `token\0${createHash("sha256").update(authInfo.token).digest("base64url")}`
    }
    const sessions = new Map<
      string,
      {
        transport: WebStandardStreamableHTTPServerTransport
        server: McpServer
        principal: string
        lastSeen: number
        /** Response streams still open (the standalone GET stream, SSE answers) and requests being answered: not idle. */
        streams: number
        /** Settles when the session closes: a request still waiting for its JSON answer gets a 503. */
        readonly ended: Promise<Response>
      }
    >()
    // stateless requests in flight, each with how to stop it (its server closed, the request answered)
    const inFlight = new Set<() => Promise<void>>()
    let closed = false
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = true
        const all = Array.from(sessions.values())
        sessions.clear()
        const stops = Array.from(inFlight)
        inFlight.clear()
        await Promise.all([...all.map((s) => closeServer(s.server)), ...stops.map((stop) => stop())])
      })
    )
    // sessions a client abandoned without DELETE are closed after `sessionIdleTimeout`, and at most
    // `maxSessions` are open at once
    const maxSessions = options.maxSessions ?? 10_000
    const idleMs = Duration.toMillis(Duration.decode(options.sessionIdleTimeout ?? Duration.minutes(30)))
    if (!options.stateless && Number.isFinite(idleMs)) {
      const sweep = Effect.sync(() => {
        const now = Date.now()
        for (const [id, s] of sessions) {
          if (s.streams > 0 || now - s.lastSeen < idleMs) continue
          sessions.delete(id)
          void s.transport.close().catch(() => undefined)
          void closeServer(s.server)
        }
      })
      yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(Math.max(100, Math.min(idleMs / 4, 60_000))))))
    }
    const guard = Http.guardEndpoint(options)

    /** Refuses a tools/call, prompts/get or resources/read that requires scopes the token lacks, when asked to. */
    const checkScopes = (server: McpServer, body: unknown, request: Request, authInfo: AuthInfo | undefined) => {
      if (options.insufficientScope === undefined) return undefined
      const installation = installationOf(server)
      if (installation === undefined) return undefined
      for (const message of Array.isArray(body) ? body : [body]) {
        const missing = ComponentScopes.missingOf(installation.requiredFor(String(message?.method ?? ""), message?.params), authInfo?.scopes)
        if (missing.length > 0) return options.insufficientScope(missing, request)
      }
      return undefined
    }

    // bodies are read with the SDK's own cap (`parsedBody` bypasses its reader)
    const parseBody = Http.readJsonBody

    const stateless = async (request: Request, authInfo: AuthInfo | undefined): Promise<Response> => {
      // no session, so no standalone SSE stream and nothing to delete: answering GET would make
      // idle clients reconnect every second
      if (request.method !== "POST") {
        return methodNotAllowed("POST")
      }
      const parsed = request.method === "POST" ? await parseBody(request) : undefined
      if (parsed instanceof Response) return parsed
      const server = await options.server(runtime)
      const close = () => closeServer(server)
      if (closed) {
        void close()
        return jsonRpcError(503, "Server is closing")
      }
      const refused = parsed === undefined ? undefined : checkScopes(server, parsed.body, request, authInfo)
      if (refused !== undefined) {
        void close()
        return refused
      }
      // a client that goes away, or the layer closing, stops the call: the server is closed (its
      // calls' signals abort, their fibers are interrupted) and the request is answered at once
      // (the SDK's JSON-mode answer never comes once its transport is closed)
      let answer!: (response: Response) => void
      const stopped = new Promise<Response>((resolve) => (answer = resolve))
      const stop = async () => {
        answer(jsonRpcError(503, "The request was abandoned or the server is closing"))
        await close()
      }
      const onAbort = () => void stop()
      inFlight.add(stop)
      request.signal.addEventListener("abort", onAbort, { once: true })
      try {
        const transport = new WebStandardStreamableHTTPServerTransport({ enableJsonResponse: true })
        await server.connect(transport)
        if (request.signal.aborted) void stop()
        return await Promise.race([
          transport.handleRequest(request, {
            ...(authInfo !== undefined ? { authInfo } : {}),
            ...(parsed !== undefined ? { parsedBody: parsed.body } : {})
          }),
          stopped
        ])
      } finally {
        request.signal.removeEventListener("abort", onAbort)
        inFlight.delete(stop)
        void close()
      }
    }

    const stateful = async (request: Request, authInfo: AuthInfo | undefined): Promise<Response> => {
      // as the SDK's transport answers them, with or without a session
      if (request.method !== "GET" && request.method !== "POST" && request.method !== "DELETE") {
        return methodNotAllowed("GET, POST, DELETE")
      }
      const authOptions = authInfo !== undefined ? { authInfo } : {}
      const sessionId = request.headers.get("mcp-session-id")
      const parsed = request.method === "POST" ? await parseBody(request) : undefined
      if (parsed instanceof Response) return parsed
      if (sessionId !== null) {
        const session = sessions.get(sessionId)
        if (session === undefined || session.principal !== principalOf(authInfo)) return jsonRpcError(404, "Session not found")
        session.lastSeen = Date.now()
        const refused = parsed === undefined ? undefined : checkScopes(session.server, parsed.body, request, authInfo)
        if (refused !== undefined) return refused
        // in flight, the request keeps its session from idling out; if the session closes first
        // (the layer closing, the idle sweep, a DELETE), the SDK never answers it: a 503 does
        session.streams++
        let response: Response
        try {
          response = await Promise.race([
            session.transport.handleRequest(request, {
              ...authOptions,
              ...(parsed !== undefined ? { parsedBody: parsed.body } : {})
            }),
            session.ended
          ])
        } finally {
          session.streams--
          session.lastSeen = Date.now()
        }
        return whileOpen(response, session)
      }
      if (parsed === undefined) return jsonRpcError(400, "Bad Request: no session id")
      const messages = Array.isArray(parsed.body) ? parsed.body : [parsed.body]
      if (!messages.some(isInitializeRequest)) return jsonRpcError(400, "Bad Request: no session id")
      // initializations in flight count too: concurrent ones must not all pass the check
      if (sessions.size + initializing >= maxSessions) return jsonRpcError(503, "Too many sessions; try again later")
      initializing++
      // counted once: as in flight until the session exists, then in `sessions`
      let inFlight = true
      const settle = () => {
        if (inFlight) initializing--
        inFlight = false
      }
      try {
        return await initialize(request, parsed.body, authInfo, authOptions, settle)
      } finally {
        settle()
      }
    }

    let initializing = 0
    const initialize = async (
      request: Request,
      body: unknown,
      authInfo: AuthInfo | undefined,
      authOptions: { readonly authInfo?: AuthInfo },
      settle: () => void
    ): Promise<Response> => {
      const server = await options.server(runtime)
      const principal = principalOf(authInfo)
      let sessionClosed!: (response: Response) => void
      const ended = new Promise<Response>((resolve) => (sessionClosed = resolve))
      const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: options.enableJsonResponse ?? false,
        onsessioninitialized: (id) => {
          settle()
          // the layer closed while this session was being initialized: it is not kept
          if (closed) return void closeServer(server)
          sessions.set(id, { transport, server, principal, lastSeen: Date.now(), streams: 0, ended })
        },
        onsessionclosed: (id) => {
          sessions.delete(id)
        }
      })
      transport.onclose = () => {
        if (transport.sessionId !== undefined) sessions.delete(transport.sessionId)
        sessionClosed(jsonRpcError(503, "The session closed before the request was answered"))
        void server.close().catch(() => undefined)
      }
      await server.connect(transport)
      const response = await transport.handleRequest(request, { ...authOptions, parsedBody: body })
      const session = transport.sessionId === undefined ? undefined : sessions.get(transport.sessionId)
      // an initialization the transport refused (406, 415, a batch with initialize): no session, so
      // nothing would ever close this server
      if (session === undefined) void closeServer(server)
      return session === undefined ? response : whileOpen(response, session)
    }

    const handle = options.stateless ? stateless : stateful
    const respond: WebHandler = async (request, opts) => {
      let authInfo = opts?.authInfo
      if (runAuth !== undefined && options.authenticate !== undefined) {
        const outcome = await runAuth(options.authenticate(request))
        if (outcome instanceof Response) return outcome
        if (outcome !== undefined) authInfo = outcome
      }
      return handle(request, authInfo)
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
    Layer.provideMerge(Serve.boundServer("McpHttpServer", host, options.port, options.allowedHosts, options.allowedOrigins))
  )
}

/**
 * A plain Node `(req, res)` handler for Express or `node:http` apps. `req.auth` (set by an auth
 * middleware, as the SDK's own Express helpers do) reaches tools as `extra.authInfo`. Call
 * `close()` to end every session.
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

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/**
 * Counts an event-stream response as activity of its session until the stream ends: a client
 * that only listens on its GET stream for longer than `sessionIdleTimeout` is not idle. Other
 * responses pass as they are.
 */
const whileOpen = (response: Response, session: { streams: number; lastSeen: number }): Response => {
  const body = response.body
  if (body === null || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return response
  session.streams++
  let open = true
  const release = () => {
    if (!open) return
    open = false
    session.streams--
    session.lastSeen = Date.now()
  }
  const reader = body.getReader()
  const tracked = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      try {
        const { done, value } = await reader.read()
        if (done) {
          release()
          controller.close()
        } else controller.enqueue(value)
      } catch (e) {
        release()
        controller.error(e)
      }
    },
    cancel: (reason) => {
      release()
      return reader.cancel(reason)
    }
  })
  return new Response(tracked, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/**
 * Routes served beside the MCP endpoint (`McpAuth.wellKnownRouter`, `CredentialsPage.router`,
 * `OAuthAuthorization.router`, your own `HttpRouter`) as a Node middleware for Express or
 * `node:http`, run with `runtime`'s services: a request a route matches is answered, any other
 * goes to `next` (404 without one). Mount it before body parsers:
 * `app.use(await McpHttpServer.toNodeMiddleware(McpAuth.wellKnownRouter({ resource }), runtime))`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toNodeMiddleware: <E, R>(
  routes: HttpRouter.HttpRouter<E, R>,
  runtime: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown>
) => Promise<(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>> = Serve.toNodeMiddleware

/**
 * A Node server whose `close` also drops idle keep-alive connections: clients' fetch pools keep
 * sockets open, and a plain `close` waits for them for seconds.
 */
export const createClosingServer = Http.createClosingServer

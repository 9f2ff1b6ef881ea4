/**
 * Serving a web handler, the same on both SDK lines (`McpHttpServer`, `McpHttpServerV2`): the
 * Effect router with the MCP endpoint beside the application's routes, the `HttpServer` layer, a
 * Node server bound to `host:port`, and the plain Node `(req, res)` handler. Each line passes its
 * own `makeWebHandler`.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"
import * as Http from "./http.js"

/** A web-standard handler, with the caller's `AuthInfo` when a Node middleware set one. */
export type WebHandler<Auth> = (request: Request, options?: { readonly authInfo?: Auth | undefined }) => Promise<Response>

/** The MCP endpoint on `path` (default `/mcp`, all methods), then `routes`. */
export const router = <Auth, R, RR>(
  makeWebHandler: Effect.Effect<WebHandler<Auth>, never, R | Scope.Scope>,
  path: string | undefined,
  routes: HttpRouter.HttpRouter<never, RR> | undefined,
  credentialHeaderPrefixes?: ReadonlyArray<string> | undefined
) =>
  Effect.map(makeWebHandler, (handler) => {
    const prefixes = Http.lowerPrefixes(credentialHeaderPrefixes)
    const app = HttpApp.fromWebHandler(async (req) => {
      const response = await handler(req)
      // the client went away while the request was handled: nobody reads the body, so it is
      // cancelled (an SSE stream would otherwise stay open, and its session never idle)
      if (req.signal.aborted) Http.cancelBody(response)
      return startedEventStream(response)
    })
    const mcp = HttpRouter.empty.pipe(
      HttpRouter.all(
        (path ?? "/mcp") as HttpRouter.PathInput,
        // a repeated credential header is refused from the Node request (the web one has joined it)
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const repeated = Http.repeatedCredentialHeader((request.source as Partial<IncomingMessage> | undefined)?.rawHeaders, prefixes)
          return repeated === undefined ? app : Effect.succeed(HttpServerResponse.fromWeb(Http.repeatedHeader(repeated)))
        })
      )
    )
    return routes === undefined ? mcp : HttpRouter.concat(mcp, routes)
  })

const sseComment = new TextEncoder().encode(":\n\n")

/**
 * An event stream that starts with an SSE comment: the Node server behind the router writes the
 * status and headers with the first chunk, so a quiet stream (a standalone GET, a slow tool's
 * answer) would otherwise keep its client waiting for headers (as `toNodeHandler` flushes them).
 */
const startedEventStream = (response: Response): Response => {
  if (response.body === null || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) return response
  const started = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      start: (controller) => controller.enqueue(sseComment)
    })
  )
  return new Response(started, { status: response.status, statusText: response.statusText, headers: response.headers })
}

/** Serves a router (built in the layer's scope) on the `HttpServer` in context. */
export const serve = <E, R, RR>(
  router: Effect.Effect<HttpRouter.HttpRouter<E, RR>, never, R | Scope.Scope>
): Layer.Layer<never, never, Exclude<R, Scope.Scope> | RR | HttpServer.HttpServer> =>
  Layer.unwrapScoped(Effect.map(router, (r) => HttpServer.serve(r))) as any

/** The Host/Origin allow-list of a bind: the loopback names for a loopback host, unless given. */
export const allowedHostsFor = (
  host: string,
  allowedHosts: ReadonlyArray<string> | "any" | undefined
): ReadonlyArray<string> | "any" =>
  allowedHosts ??
    (Http.isLoopback(host)
      // the loopback names, and the bound address itself (127.0.0.2, a spelled-out ::1)
      ? [...new Set([...Http.localhostNames, Http.bindHostname(host)])]
      : "any")

/**
 * The Node HTTP server of `McpHttpServer(V2).layer`: `host:port` (default port 3000), closing
 * promptly, with a warning in the log when a non-loopback bind has no `allowedHosts` (Host/Origin
 * checking, the DNS-rebinding protection, is then off, as in the SDK's own helpers).
 */
export const boundServer = (
  name: string,
  host: string,
  port: number | undefined,
  allowedHosts: ReadonlyArray<string> | "any" | undefined,
  allowedOrigins?: ReadonlyArray<string> | undefined
) => {
  const server = nodeServer(name, host, port)
  if (allowedHosts !== undefined || Http.isLoopback(host)) return server
  const unchecked = allowedOrigins === undefined ? "Host and Origin are not checked" : "Host is not checked"
  return Layer.merge(
    server,
    Layer.effectDiscard(
      Effect.logWarning(
        `${name}: bound to ${host} without allowedHosts, so ${unchecked} (no DNS-rebinding ` +
          `protection). Set allowedHosts to the host names clients use, or "any" to silence this warning.`
      )
    )
  )
}

/**
 * A Node HTTP server on `host:port` (default port 3000) that closes promptly. A failure to listen
 * is a `ListenError` that says which address and why (`EADDRINUSE`, `EACCES`, …), instead of the
 * platform's generic `ServeError` with the reason in its cause.
 */
export const nodeServer = (name: string, host: string, port: number | undefined) => {
  const p = port ?? 3000
  if (!Number.isInteger(p) || p < 0 || p > 65535) {
    return Layer.fail(new Http.ListenError(host, p, undefined, `${name}: port must be an integer from 0 to 65535`))
  }
  return NodeHttpServer.layer(Http.createClosingServer, { port: p, host }).pipe(
    Layer.mapError((error) => Http.ListenError.from(name, host, p, error))
  )
}

/** The runtime of a `Runtime` or `ManagedRuntime` (built on first use). */
const runtimeOf = <R>(runtimeOrManaged: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown>): Promise<Runtime.Runtime<R>> =>
  ManagedRuntime.isManagedRuntime(runtimeOrManaged)
    ? runtimeOrManaged.runtime() as Promise<Runtime.Runtime<R>>
    : Promise.resolve(runtimeOrManaged as Runtime.Runtime<R>)

/**
 * A plain Node `(req, res)` handler around the web handler, built in its own scope with the
 * runtime's services; `close()` closes that scope (sessions, the SDK handler).
 */
export const toNodeHandler = async <Auth, R>(
  runtimeOrManaged: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown>,
  makeWebHandler: Effect.Effect<WebHandler<Auth>, never, R | Scope.Scope>,
  credentialHeaderPrefixes?: ReadonlyArray<string> | undefined
): Promise<{
  readonly handler: (req: IncomingMessage & { auth?: Auth }, res: ServerResponse) => Promise<void>
  readonly close: () => Promise<void>
}> => {
  const runtime = await runtimeOf(runtimeOrManaged)
  const scope = Effect.runSync(Scope.make())
  // run on the runtime itself: its services and its FiberRefs (a logger, a ConfigProvider set
  // with Layer.setConfigProvider) reach the handler and the server factory
  const web = await Runtime.runPromise(runtime)(Scope.extend(makeWebHandler, scope))
  // never rejects: a failure (a malformed request, a defect in `authenticate` or in the server
  // factory) is answered with a generic 500 and never becomes an unhandled rejection that ends
  // the process
  let closed = false
  const prefixes = Http.lowerPrefixes(credentialHeaderPrefixes)
  const handler = async (req: IncomingMessage & { auth?: Auth }, res: ServerResponse) => {
    // after close() the sessions and the SDK handler are gone: nothing more is served
    if (closed) return Http.writeWebResponse(Http.jsonRpcError(503, "Server is shutting down"), res)
    const repeated = Http.repeatedCredentialHeader(req.rawHeaders, prefixes)
    if (repeated !== undefined) return Http.writeWebResponse(Http.repeatedHeader(repeated), res)
    try {
      const response = await web(Http.toWebRequest(req, res), { authInfo: req.auth })
      Http.writeWebResponse(response, res)
    } catch {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" })
        res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32603, message: "Internal server error" }, id: null }))
      } else {
        res.destroy()
      }
    }
  }
  return {
    handler,
    close: () => {
      closed = true
      return Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }
}

/**
 * Routes (an `HttpRouter`: `McpAuth.wellKnownRouter`, `CredentialsPage.router`, …) as a Node
 * middleware for Express or `node:http`: a request one of them matches is answered, any other is
 * passed to `next` (404 without one). Mount it before body parsers (a form a parser already read
 * is given to the routes again, re-encoded).
 */
export const toNodeMiddleware = async <E, R>(
  routes: HttpRouter.HttpRouter<E, R>,
  runtimeOrManaged: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown>
): Promise<(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => Promise<void>> => {
  const runtime = await runtimeOf(runtimeOrManaged)
  // what no route matched, told apart from a route's own 404 by a header only this middleware knows
  const unrouted = `x-mcp-credentials-unrouted-${randomBytes(8).toString("hex")}`
  const app = Effect.catchTag(
    routes as unknown as HttpApp.Default<E | HttpServerError.RouteNotFound, R>,
    "RouteNotFound",
    () => Effect.succeed(HttpServerResponse.empty({ status: 404, headers: { [unrouted]: "1" } }))
  )
  const web = HttpApp.toWebHandlerRuntime(runtime)(app as HttpApp.Default<unknown, R>)
  return async (req, res, next) => {
    try {
      const response = await web(Http.toWebRequest(req, res, { lazyBody: true }))
      if (response.headers.has(unrouted)) {
        Http.cancelBody(response)
        if (next !== undefined) return next()
        response.headers.delete(unrouted)
      }
      Http.writeWebResponse(response, res)
    } catch (error) {
      if (next !== undefined) return next(error)
      if (!res.headersSent) res.writeHead(500).end()
      else res.destroy()
    }
  }
}

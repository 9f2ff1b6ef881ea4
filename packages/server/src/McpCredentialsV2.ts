/**
 * The `@modelcontextprotocol/server` (v2, protocol 2026-07-28 and the 2025 era it still serves)
 * integration, with the same surface for tool authors as `McpCredentials` (v1): install on an
 * `McpServer` so that every `tools/call` resolves the credentials its tool declared, runs the tool
 * with them in scope, and returns a result from which every secret has been scrubbed. Tool code
 * moves between the lines by changing the import and the server construction only.
 *
 * This module (with `McpHttpServerV2`) is the only one that imports the v2 SDK; the pipeline
 * underneath (`internal/pipeline.ts`) is the same as v1's.
 *
 * Multi-round-trip requests (2026-07-28): a credential backend whose failure carries
 * `ToolContext.InputRequiredTypeId` (the vault's URL elicitation) ends the call with the SDK's
 * input-required result; on the client's retry, the call's `ToolContext` holds the echoed
 * `requestState` (raw and untrusted: the backend verifies it) and `inputResponses`, and
 * `protocolVersion` says which revision the call was sent on. On 2025-era calls the failure
 * stays an error, as on v1.
 *
 * @since 0.1.0
 */
import { CredentialMiddleware } from "@mcp-credentials/core"
import type { CredentialKind, ResolvedCredential } from "@mcp-credentials/core/ResolvedCredential"
import {
  type CallToolResult,
  type Icon,
  inputRequired,
  type InputRequests,
  type McpServer,
  PROTOCOL_VERSION_META_KEY,
  ProtocolError,
  type RegisteredTool,
  type ServerContext,
  type StandardSchemaV1,
  type StandardSchemaWithJSON,
  type ToolAnnotations
} from "@modelcontextprotocol/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ManagedRuntime from "effect/ManagedRuntime"
import type * as Runtime from "effect/Runtime"
import * as Accessors from "./internal/accessors.js"
import * as CallContext from "./internal/callContext.js"
import * as ComponentScopes from "./internal/componentScopes.js"
import * as Installations from "./internal/installations.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Runner from "./internal/runner.js"
import * as ToolContextBuilder from "./internal/toolContext.js"
import * as ToolContext from "./ToolContext.js"

/**
 * The SDK's per-request context as tool callbacks receive it (`ctx`): `ctx.mcpReq` (id, signal,
 * notify, log, …) and `ctx.http` (`authInfo`, the HTTP `req` without credential headers).
 *
 * @since 0.1.0
 * @category models
 */
export type Ctx = ServerContext

/**
 * The same as `Ctx`, under v1's name (`McpCredentials.Extra`), so annotated tool code keeps
 * compiling when only the import changes. Its shape is the v2 SDK's (`ctx.mcpReq`, `ctx.http`).
 *
 * @since 0.1.0
 * @category models
 */
export type Extra = Ctx

/**
 * What a tool declares it needs: `"static"` or `"oauth"` for the default credential, or named
 * credentials, e.g. `{ github: "oauth", jira: "static" }`. A tool that declares nothing never
 * triggers resolution.
 *
 * @since 0.1.0
 * @category models
 */
export type Declaration = CredentialKind | Readonly<Record<string, CredentialKind>>

/**
 * The same options as `McpCredentials.Options` (v1).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<R, X = never> {
  /**
   * The application's layer. A `ManagedRuntime` is built from it and disposed when the server
   * closes. With per-request servers (`McpHttpServerV2`, `createMcpHandler`) give `runtime`.
   */
  readonly layer?: Layer.Layer<R, unknown, never> | undefined
  /** A runtime owned by the caller (shared by many servers); it is not disposed on close. */
  readonly runtime?: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown> | undefined
  /**
   * Declarations for tools registered directly with `server.registerTool` (and for tools that
   * `registerTool` registers without `credentials`).
   */
  readonly tools?: Readonly<Record<string, Declaration>> | undefined
  /** Scopes each tool requires of the caller's access token (`ctx.http.authInfo.scopes`). */
  readonly toolScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * Scopes each prompt requires (by name): `prompts/get` and its argument completions are refused
   * with a JSON-RPC error (-32003, `data: { error: "insufficient_scope", missing }`). The SDK's own
   * `scopeChallenge` (HTTP 403 at its transport) works beside it.
   */
  readonly promptScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** Scopes each resource or resource template requires, by its registered name (`resources/read`, completions). */
  readonly resourceScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * `"all"` (default): the list requests list everything. `"authorized"`: `tools/list`,
   * `prompts/list`, `resources/list` and `resources/templates/list` list only what the caller's
   * access token holds the required scopes of (`scopes`, `toolScopes`, `promptScopes`,
   * `resourceScopes`), so the model is not offered what it cannot use (using it is refused
   * either way).
   */
  readonly listing?: "all" | "authorized" | undefined
  /**
   * `"result"` (default): failures are `isError` tool results the model can read.
   * `"jsonrpc"`: they are JSON-RPC errors (credential failures -32001, scope -32003, unexpected
   * -32603; tool failures -32002, which the v2 SDK sends as -32602).
   */
  readonly errors?: Pipeline.ErrorMode | undefined
  /** Header prefixes hidden from tools (besides `Authorization`, `Cookie`, `X-MCP-Gateway-*`). */
  readonly credentialHeaderPrefixes?: ReadonlyArray<string> | undefined
  /** More services for every Effect tool, built from the call's request context. */
  readonly context?: ((tool: ToolContext.ToolContextShape) => Context.Context<X>) | undefined
}

/**
 * What a tool handler may return: a `CallToolResult`, or a plain value: a string becomes text
 * content, an object `structuredContent` and its JSON as text, an array, number or boolean its
 * JSON as text, and nothing (`void`) an empty result.
 *
 * @since 0.1.0
 * @category models
 */
export type ToolOutput = CallToolResult | Runner.PlainOutput

/**
 * A raw shape (`{ city: z.string() }`), as v1 tools write their `inputSchema`; the SDK wraps it in
 * `z.object()`.
 *
 * @since 0.1.0
 * @category models
 */
export type RawShape = Readonly<Record<string, StandardSchemaV1>>

type ShapeOutput<S extends RawShape> = { [K in keyof S]: StandardSchemaV1.InferOutput<S[K]> }

/**
 * A tool handler: an `Effect` (which may `yield*` credentials and `ToolContext`), or a plain
 * (async) function that reads credentials with `getCredentials()`.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<Args, R> = Args extends StandardSchemaWithJSON ? (args: StandardSchemaWithJSON.InferOutput<Args>, ctx: Ctx) => HandlerOutput<R>
  : Args extends RawShape ? (args: ShapeOutput<Args>, ctx: Ctx) => HandlerOutput<R>
  : (ctx: Ctx) => HandlerOutput<R>

/**
 * @since 0.1.0
 * @category models
 */
export type HandlerOutput<R> =
  | Effect.Effect<ToolOutput, unknown, R | ToolContext.ToolContext>
  | Promise<ToolOutput>
  | ToolOutput

/**
 * The same configuration as `McpServer.registerTool`, plus the credentials and scopes the tool
 * needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface ToolConfig<InputArgs, OutputArgs> {
  readonly title?: string
  readonly description?: string
  readonly inputSchema?: InputArgs
  readonly outputSchema?: OutputArgs
  readonly annotations?: ToolAnnotations
  readonly icons?: Array<Icon>
  readonly _meta?: Record<string, unknown>
  readonly credentials?: Declaration
  /**
   * Scopes the caller's access token must hold. A call without them is refused before any
   * credential is resolved: an `isError` result naming the missing scopes, or (with
   * `McpHttpServerV2`'s `insufficientScope` option) HTTP 403 so the client can step up.
   */
  readonly scopes?: ReadonlyArray<string>
}

/**
 * The integration installed on one server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Installed<R, X = never> {
  readonly server: McpServer
  readonly declare: (toolName: string, declaration: Declaration | undefined) => void
  readonly requireScopes: (toolName: string, scopes: ReadonlyArray<string>) => void
  readonly requiredScopes: (toolName: string) => ReadonlyArray<string>
  /** Declares the scopes a prompt requires (see `promptScopes`). */
  readonly requirePromptScopes: (promptName: string, scopes: ReadonlyArray<string>) => void
  /** Declares the scopes a resource or resource template requires, by its registered name. */
  readonly requireResourceScopes: (resourceName: string, scopes: ReadonlyArray<string>) => void
  /** What a request requires of the caller's token, or `undefined` (read by `McpHttpServerV2`). */
  readonly requiredFor: (method: string, params: unknown) => ComponentScopes.Requirement | undefined
  readonly registerTool: <
    InputArgs extends StandardSchemaWithJSON | RawShape | undefined = undefined,
    OutputArgs extends StandardSchemaWithJSON | RawShape | undefined = undefined
  >(
    name: string,
    config: ToolConfig<InputArgs, OutputArgs>,
    handler: Handler<InputArgs, R | X>
  ) => RegisteredTool
  readonly runPromise: <A, E>(effect: Effect.Effect<A, E, R>, options?: { readonly signal?: AbortSignal }) => Promise<A>
  readonly dispose: () => Promise<void>
  /** See `McpCredentials.Installed.interruptCalls`. */
  readonly interruptCalls: () => Promise<void>
}

const installations = Installations.make<McpServer, Installed<any>>("@mcp-credentials/server/McpCredentialsV2/installed")
const wrapped = Symbol.for("@mcp-credentials/server/wrapped")

type ProtocolHandler = (request: any, ctx: Ctx) => Promise<unknown>

/**
 * Installs the integration on `server`. Every `tools/call` is intercepted, whatever order tools
 * and the integration were registered in; other requests pass untouched. Installing twice on one
 * server returns the first installation.
 *
 * @since 0.1.0
 * @category constructors
 */
export const install = <R = never, X = never>(server: McpServer, options: Options<R, X> = {}): Installed<R, X> => {
  const existing = installations.get(server)
  if (existing !== undefined) return existing as Installed<R, X>

  const declarations = new Map<string, ReadonlyArray<CredentialMiddleware.Requirement>>()
  const declare = (toolName: string, declaration: Declaration | undefined) => {
    const reqs = CredentialMiddleware.requirements(declaration)
    if (reqs.length === 0) declarations.delete(toolName)
    else declarations.set(toolName, reqs)
  }
  for (const [name, d] of Object.entries(options.tools ?? {})) declare(name, d)
  const components = ComponentScopes.make(server, options)
  if (options.listing === "authorized") {
    // each caller gets its own list: a public cache hint would let one caller's list be served to others
    const hints = (server.server as unknown as { readonly _cacheHints?: Readonly<Record<string, { readonly cacheScope?: string } | undefined>> })._cacheHints
    for (const method of ComponentScopes.listMethods) {
      if (hints?.[method]?.cacheScope === "public") {
        throw new Error(`McpCredentialsV2.install: listing "authorized" filters ${method} per caller; its cache hint must not be cacheScope "public"`)
      }
    }
  }
  const { requiredScopes, requireScopes } = components

  const errors: Pipeline.ErrorMode = options.errors ?? "result"
  // the default prefix is always hidden; configured ones are added to it
  const prefixes = ["X-MCP-Cred-", ...(options.credentialHeaderPrefixes ?? [])]
  const runner = Runner.makeRunner<R>(options)
  const { dispose, run } = runner

  // -- protocol layer: every tools/call ------------------------------------------------------
  const intercept = (handler: ProtocolHandler): ProtocolHandler => {
    if ((handler as any)[wrapped]) return handler
    const onCall: ProtocolHandler = async (request, ctx) => {
      const toolName: string = String(request?.params?.name ?? "")
      const requirements = declarations.get(toolName) ?? []
      // the request's headers as a record, built when a backend reads them (the Header backend)
      let rawHeaders: Record<string, string> | undefined
      const toolCtx = hideHeaders(ctx, prefixes)
      // only calls that resolve credentials can elicit (off the hot path otherwise)
      const round = requirements.length > 0 ? roundOf(ctx, server) : noRound
      // the tool's context knows the request (`requestDigest`) and its round (`protocolVersion`)
      const call: CallContext.Call = {
        toolName,
        toolContext: () => makeToolContext(toolName, toolCtx, server, request?.params, round !== noRound ? round : roundOf(ctx, server))
      }
      // the frame goes on the context the SDK passes on (it copies it, frame included, for a
      // requestState retry)
      const { frame, invoke, narrow } = Pipeline.prepareCall(server, toolCtx, call, () => handler(request, toolCtx))
      const untrack = outgoing.track(ctx.mcpReq.id, frame)
      const authInfo = ctx.http?.authInfo
      try {
        return await Pipeline.callTool({
          toolName,
          requirements,
          requiredScopes: requiredScopes(toolName),
          grantedScopes: authInfo?.scopes,
          context: {
            get headers() {
              return (rawHeaders ??= headersOf(ctx.http?.req))
            },
            user: Pipeline.userOf(ctx.http?.authInfo)
          },
          extraSecrets: Pipeline.plainSecret(authInfo?.token),
          errors,
          narrow,
          isProtocolError: (e) => e instanceof ProtocolError,
          // Env and Header backends resolve on it without a fiber
          runtime: runner.runtime() as Runtime.Runtime<never> | undefined,
          // backends that elicit (the vault's CredentialsProvider) read the call's ToolContext
          services: () => Context.make(ToolContext.ToolContext, makeToolContext(toolName, toolCtx, server, request?.params, round)),
          // 2026-07-28: an elicitation ends the call with an input-required result (the client
          // retries with the requestState); on 2025-era requests it stays an error
          inputRequired: round.modern ? toInputRequiredResult : undefined
        }, invoke, run, ctx.mcpReq.signal)
      } catch (e) {
        if (e instanceof Pipeline.JsonRpcFailure) throw new ProtocolError(e.code, e.message, e.data)
        throw e
      } finally {
        untrack()
      }
    }
    ;(onCall as any)[wrapped] = true
    return onCall
  }
  // The v2 Server passes every handler through its `_wrapHandler` hook (the SDK's own seam for
  // role-specific wrapping): wrapping there puts the interception outermost for handlers set
  // later; one already set is wrapped in place.
  const protocol = server.server as any
  // what the server sends on its own while a tool runs (`ctx.mcpReq.notify`, `log`, `send`,
  // `elicitInput`, `requestSampling`, `sendLoggingMessage`): every notification and request of
  // the v2 Protocol goes through these two funnels, scrubbed by the call
  const outgoing = Pipeline.makeOutgoing()
  const originalNotify = protocol._notificationViaCodec.bind(protocol)
  protocol._notificationViaCodec = (codec: unknown, notification: unknown, options?: { readonly relatedRequestId?: unknown }) =>
    originalNotify(codec, outgoing.scrub(notification, options?.relatedRequestId), options)
  const originalSend = protocol._requestWithSchemaViaCodec.bind(protocol)
  protocol._requestWithSchemaViaCodec = (
    codec: unknown,
    request: unknown,
    resultSchema: unknown,
    options?: { readonly relatedRequestId?: unknown }
  ) => originalSend(codec, outgoing.scrub(request, options?.relatedRequestId), resultSchema, options)
  // `listing: "authorized"`: the list requests offer only what the caller's scopes allow
  const listed = (method: string, handler: ProtocolHandler): ProtocolHandler => {
    if (options.listing !== "authorized" || (handler as any)[wrapped]) return handler
    const filtered: ProtocolHandler = async (request, ctx) =>
      components.authorizedListing(method, await handler(request, ctx), ctx.http?.authInfo?.scopes)
    ;(filtered as any)[wrapped] = true
    return filtered
  }
  // prompts and resources that require scopes: refused before their handler runs
  const guarded = (method: string, handler: ProtocolHandler): ProtocolHandler => {
    if ((handler as any)[wrapped]) return handler
    const checked: ProtocolHandler = (request, ctx) => {
      const refusal = components.refusalFor(method, request?.params, ctx.http?.authInfo?.scopes)
      if (refusal !== undefined) return Promise.reject(new ProtocolError(refusal.code, refusal.message, refusal.data))
      return handler(request, ctx)
    }
    ;(checked as any)[wrapped] = true
    return checked
  }
  const wrapFor = (method: string, handler: ProtocolHandler): ProtocolHandler =>
    method === "tools/call"
      ? intercept(handler)
      : ComponentScopes.listMethods.has(method)
      ? listed(method, handler)
      : ComponentScopes.guardedMethods.has(method)
      ? guarded(method, handler)
      : handler
  const originalWrap = protocol._wrapHandler.bind(protocol)
  protocol._wrapHandler = (method: string, handler: ProtocolHandler) => wrapFor(method, originalWrap(method, handler))
  const handlers: Map<string, ProtocolHandler> = protocol._requestHandlers
  for (const [method, handler] of handlers) handlers.set(method, wrapFor(method, handler))
  // every other request (resources, prompts, completions, custom ones) passes untouched, but its
  // handler, like a tool, does not see the credential headers: the context the Server builds for
  // each request is given without them (one hook for every handler; a tools/call is hidden by
  // the interception)
  const originalBuildContext = protocol.buildContext.bind(protocol)
  protocol.buildContext = (ctx: Ctx, transportInfo: unknown) => {
    const built: Ctx = originalBuildContext(ctx, transportInfo)
    return built.mcpReq?.method === "tools/call" ? built : hideHeaders(built, prefixes)
  }

  // -- close: dispose the runtime built from `layer` -------------------------------------------
  const previousOnClose = server.server.onclose
  server.server.onclose = () => {
    previousOnClose?.()
    // the calls still running end first: none may run on a released layer
    runner.disposeAfterCalls()
  }

  // -- tools registered through the integration ------------------------------------------------
  const runHandler = (toolName: string, handler: (...args: Array<any>) => unknown, args: ReadonlyArray<any>, ctx: Ctx) =>
    Pipeline.runHandlerOfCall<X>(ctx, {
      toolName,
      run,
      errors,
      bearerToken: ctx.http?.authInfo?.token,
      toolContext: () => makeToolContext(toolName, ctx, server),
      context: options.context,
      signal: ctx.mcpReq.signal
    }, handler, args) as Promise<CallToolResult>

  const registerTool: Installed<R, X>["registerTool"] = Pipeline.makeRegisterTool<Ctx>({
    sdkRegister: (name, config, callback) => (server.registerTool as any)(name, config, callback),
    declare,
    requireScopes,
    defaults: { tools: options.tools, toolScopes: options.toolScopes },
    runHandler
  }) as Installed<R, X>["registerTool"]

  const result: Installed<R, X> = {
    server,
    declare,
    requireScopes,
    requiredScopes,
    requirePromptScopes: components.requirePromptScopes,
    requireResourceScopes: components.requireResourceScopes,
    requiredFor: components.requiredFor,
    registerTool,
    runPromise: Pipeline.runPromiseWith(run),
    dispose,
    interruptCalls: runner.interruptAll
  }
  installations.keep(server, result)
  return result
}

/**
 * The installation on `server`, if any (used by `McpHttpServerV2` to check per-tool scopes).
 *
 * @since 0.1.0
 * @category accessors
 */
export const installationOf = (server: McpServer): Installed<any> | undefined => installations.get(server)

/**
 * Sends Effect's log lines to stderr (logfmt), as `McpCredentials.layerLoggerStderr` does: a stdio
 * server must provide it, since stdout is the protocol stream there.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLoggerStderr: Layer.Layer<never> = Accessors.layerLoggerStderr

/**
 * The credential of the current tool call, for plain (non-Effect) tool code (the same function
 * as `McpCredentials.getCredentials`).
 *
 * @since 0.1.0
 * @category accessors
 */
export const getCredentials: (name?: string) => ResolvedCredential = Accessors.getCredentials

/**
 * The value of a static credential's field, for plain tool code.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getField: (field: string, name?: string) => string = Accessors.getField

/**
 * `f`, bound to the tool call it is created in: wherever it is called from later, the
 * credential and `currentToolContext()` it reads are that call's. Plain tools read them from
 * Node's async context, and a callback runs in the context of the code that calls it — for a
 * shared `EventEmitter`, a pool or a queue, possibly another client's call, whose credential it
 * would read. Bind such callbacks (`emitter.once("ready", McpCredentials.bind(() => …))`), or read
 * the credential at the start of the tool. Effect tools need nothing: a fiber carries its call.
 *
 * @since 0.1.0
 * @category accessors
 */
export const bind: <F extends (...args: Array<any>) => unknown>(f: F) => F = Accessors.bind

/**
 * The request context of the current tool call for plain (non-Effect) code, or `undefined`
 * outside a tool call of a server with an integration installed (either line): `ToolContext.current`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentToolContext: () => ToolContext.ToolContextShape | undefined = ToolContext.current

/**
 * Turns a handler's output into a `CallToolResult`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const toCallToolResult = (output: unknown): CallToolResult => Runner.toToolResult(output) as CallToolResult

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/** The request's headers as a record (lowercase names). */
const headersOf = (req: Request | undefined): Record<string, string> | undefined => {
  if (req === undefined) return undefined
  const out: Record<string, string> = {}
  req.headers.forEach((value, key) => {
    out[key] = value
  })
  return out
}

/**
 * The request as it came, for `ToolContext.headers`: kept beside the tool's context, never on it
 * (a property, even a symbol one, is found by any code that walks or inspects the context, and the
 * request holds the credential headers and gateway proofs).
 */
const originalRequests = new WeakMap<object, OriginalRequest>()

interface OriginalRequest {
  readonly req: Request
  readonly prefixes: ReadonlyArray<string>
}

/**
 * The context the tool sees: `ctx.http.req` is replaced by a body-less copy of the request
 * without credential headers, gateway proofs, `Authorization` and `Cookie`. The copy is built on
 * first read (building a web `Request` costs tens of microseconds, and most tools never read it).
 */
const hideHeaders = (ctx: Ctx, prefixes: ReadonlyArray<string>): Ctx => {
  const http = ctx.http
  const req = http?.req
  if (http === undefined || req === undefined) return { ...ctx }
  let visible: Request | undefined
  const hidden = { ...http }
  // for ToolContext.headers, which filters the same headers out of the original request
  originalRequests.set(hidden, { req, prefixes })
  Object.defineProperty(hidden, "req", {
    enumerable: true,
    configurable: true,
    get: () => {
      if (visible === undefined) {
        const headers = new Headers()
        req.headers.forEach((value, key) => {
          if (ToolContext.isVisibleHeader(key, prefixes)) headers.set(key, value)
        })
        visible = new Request(req.url, { method: req.method, headers, signal: req.signal })
      }
      return visible
    }
  })
  return { ...ctx, http: hidden }
}

/** What a call knows of its multi-round-trip round (2026-07-28). */
interface Round {
  readonly modern: boolean
  readonly protocolVersion?: string | undefined
  readonly requestState?: string | undefined
  readonly inputResponses?: Readonly<Record<string, unknown>> | undefined
}

const noRound: Round = { modern: false }

/** The first protocol revision with input-required results. */
const modernRevision = "2026-07-28"

const roundOf = (ctx: Ctx, server: McpServer): Round => {
  const fromEnvelope = (ctx.mcpReq.envelope as Readonly<Record<string, unknown>> | undefined)?.[PROTOCOL_VERSION_META_KEY]
  const protocolVersion = typeof fromEnvelope === "string" ? fromEnvelope : server.server.getNegotiatedProtocolVersion()
  // the raw echoed value (a server-level `requestState.verify` hook would give its decoded value
  // instead: only strings are passed on)
  const state = ctx.mcpReq.requestState?.()
  return {
    modern: protocolVersion !== undefined && protocolVersion >= modernRevision,
    protocolVersion,
    requestState: typeof state === "string" ? state : undefined,
    inputResponses: ctx.mcpReq.inputResponses
  }
}

/** The SDK's input-required result for an input-required failure of resolution. */
const toInputRequiredResult = (signal: ToolContext.InputRequired): Pipeline.ToolResult =>
  inputRequired({
    inputRequests: signal.inputRequests as InputRequests,
    ...(signal.requestState !== undefined ? { requestState: signal.requestState } : {})
  }) as unknown as Pipeline.ToolResult

const makeToolContext = (
  toolName: string,
  ctx: Ctx,
  server?: McpServer,
  params?: { readonly name?: unknown; readonly arguments?: unknown },
  round?: Round
): ToolContext.ToolContextShape =>
  ToolContextBuilder.make({
    toolName,
    scrubber: Pipeline.frameOf(ctx)?.scrubber,
    authInfo: ctx.http?.authInfo,
    sessionId: ctx.sessionId,
    requestId: ctx.mcpReq.id,
    signal: ctx.mcpReq.signal,
    progressToken: ctx.mcpReq._meta?.progressToken,
    // on 2026-07-28 the SDK seeds them from the request envelope (there is no initialize)
    clientCapabilities: server?.server.getClientCapabilities() as Readonly<Record<string, unknown>> | undefined,
    params,
    // from the original request (reading `ctx.http.req` would build the tool's filtered copy of it)
    headers: () => {
      const original = (ctx.http === undefined ? undefined : originalRequests.get(ctx.http))
      return original !== undefined
        ? ToolContext.visibleHeaders(headersOf(original.req), original.prefixes)
        : ToolContext.visibleHeaders(headersOf(ctx.http?.req))
    },
    // 2026-07-28 has no session stream: an unrelated notification goes out only where the SDK
    // still has a channel (2025-era connections), otherwise it is dropped
    notify: (notification, related) =>
      !related && server !== undefined ? server.server.notification(notification as any) : ctx.mcpReq.notify(notification as any),
    log: (level, data) => ctx.mcpReq.log(level, data, toolName),
    // a server→client request: on 2026-07-28 calls the SDK refuses it (the tool returns an
    // input-required result instead), which fails with ElicitationError
    elicit: (elicitParams, options) => ctx.mcpReq.elicitInput(elicitParams as any, options) as Promise<ToolContext.ElicitResult>,
    round
  })

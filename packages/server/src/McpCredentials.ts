/**
 * The `@modelcontextprotocol/sdk` (v1) integration: install on an `McpServer` so that every
 * `tools/call` resolves the credentials its tool declared, runs the tool with them in scope, and
 * returns a result from which every secret has been scrubbed. This module (with `McpHttpServer`)
 * is the only one that imports the SDK; the pipeline underneath is SDK-neutral.
 *
 * @since 0.1.0
 */
import { CredentialMiddleware } from "@mcp-credentials/core"
import type { CredentialKind, ResolvedCredential } from "@mcp-credentials/core/ResolvedCredential"
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { AnySchema, SchemaOutput, ShapeOutput, ZodRawShapeCompat } from "@modelcontextprotocol/sdk/server/zod-compat.js"
import { getMethodLiteral } from "@modelcontextprotocol/sdk/server/zod-json-schema-compat.js"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js"
import {
  type CallToolResult,
  ElicitResultSchema,
  McpError,
  type ServerNotification,
  type ServerRequest,
  type ToolAnnotations
} from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import * as Accessors from "./internal/accessors.js"
import * as CallContext from "./internal/callContext.js"
import * as ComponentScopes from "./internal/componentScopes.js"
import * as Installations from "./internal/installations.js"
import * as Pipeline from "./internal/pipeline.js"
import * as Runner from "./internal/runner.js"
import * as ToolContextBuilder from "./internal/toolContext.js"
import * as ToolContext from "./ToolContext.js"

/**
 * The SDK's per-request context as tool callbacks receive it.
 *
 * @since 0.1.0
 * @category models
 */
export type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>

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
 * @since 0.1.0
 * @category models
 */
export interface Options<R, X = never> {
  /**
   * The application's layer (backends, HTTP clients, …). The integration builds a
   * `ManagedRuntime` from it and disposes it when the server closes. Give either `layer` or
   * `runtime`.
   */
  readonly layer?: Layer.Layer<R, unknown, never> | undefined
  /** A runtime owned by the caller (shared by many servers); it is not disposed on close. */
  readonly runtime?: Runtime.Runtime<R> | ManagedRuntime.ManagedRuntime<R, unknown> | undefined
  /**
   * Declarations for tools registered directly with `server.registerTool` (and for tools that
   * `registerTool` registers without `credentials`).
   */
  readonly tools?: Readonly<Record<string, Declaration>> | undefined
  /**
   * OAuth scopes each tool requires of the caller's access token (`extra.authInfo.scopes`), for
   * tools registered directly with `server.registerTool`; `registerTool` takes `scopes` itself,
   * and without them keeps the ones given here.
   */
  readonly toolScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * OAuth scopes each prompt requires (by name): `prompts/get` and its argument completions are
   * refused with a JSON-RPC error (-32003, `data: { error: "insufficient_scope", missing }`)
   * naming the missing scopes when the caller's token lacks one.
   */
  readonly promptScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /**
   * OAuth scopes each resource or resource template requires, by the name it was registered
   * with: `resources/read` of its URI (matched as the SDK matches it) and completions of its
   * template are refused like a prompt's.
   */
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
   * `"jsonrpc"`: they are JSON-RPC errors (credential failures -32001, tool failures -32002,
   * unexpected ones -32603).
   */
  readonly errors?: Pipeline.ErrorMode | undefined
  /**
   * Header prefixes hidden from tools (besides `Authorization`, `Cookie` and `X-MCP-Gateway-*`).
   * `X-MCP-Cred-` is always hidden; list here the prefixes of named header backends (added to it).
   */
  readonly credentialHeaderPrefixes?: ReadonlyArray<string> | undefined
  /**
   * More services for every Effect tool, built from the call's request context — e.g.
   * `McpAuth.toolServices` from `@mcp-credentials/auth` provides `CurrentUser` and
   * `CurrentAccessToken`.
   */
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
 * A tool handler: an `Effect` (which may `yield*` credentials and `ToolContext`), or a plain
 * (async) function that reads credentials with `getCredentials()`.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<Args, R> = Args extends ZodRawShapeCompat
  ? (args: ShapeOutput<Args>, extra: Extra) => HandlerOutput<R>
  : Args extends AnySchema ? (args: SchemaOutput<Args>, extra: Extra) => HandlerOutput<R>
  : (extra: Extra) => HandlerOutput<R>

/**
 * @since 0.1.0
 * @category models
 */
export type HandlerOutput<R> =
  | Effect.Effect<ToolOutput, unknown, R | ToolContext.ToolContext>
  | Promise<ToolOutput>
  | ToolOutput

/**
 * The same configuration as `McpServer.registerTool`, plus the credentials the tool needs.
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
  readonly _meta?: Record<string, unknown>
  readonly credentials?: Declaration
  /**
   * Scopes the caller's access token must hold. A call without them is refused before any
   * credential is resolved: an `isError` result naming the missing scopes, or (with
   * `McpHttpServer`'s `insufficientScope` option) HTTP 403 so the client can step up.
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
  /** Declares the credentials of a tool registered elsewhere. */
  readonly declare: (toolName: string, declaration: Declaration | undefined) => void
  /** Declares the scopes a tool requires of the caller's access token. */
  readonly requireScopes: (toolName: string, scopes: ReadonlyArray<string>) => void
  /** The scopes a tool requires (empty when none). */
  readonly requiredScopes: (toolName: string) => ReadonlyArray<string>
  /** Declares the scopes a prompt requires (see `promptScopes`). */
  readonly requirePromptScopes: (promptName: string, scopes: ReadonlyArray<string>) => void
  /** Declares the scopes a resource or resource template requires, by its registered name (see `resourceScopes`). */
  readonly requireResourceScopes: (resourceName: string, scopes: ReadonlyArray<string>) => void
  /**
   * What a request requires of the caller's token (`tools/call`, `prompts/get`,
   * `resources/read`, `completion/complete`), or `undefined` (used by `McpHttpServer` to answer
   * 403 `insufficient_scope` before the request is handled).
   */
  readonly requiredFor: (method: string, params: unknown) => ComponentScopes.Requirement | undefined
  /**
   * Registers a tool like `server.registerTool`, with a `credentials` declaration and a handler
   * that may be an Effect.
   */
  readonly registerTool: <
    InputArgs extends ZodRawShapeCompat | AnySchema | undefined = undefined,
    OutputArgs extends ZodRawShapeCompat | AnySchema = ZodRawShapeCompat
  >(
    name: string,
    config: ToolConfig<InputArgs, OutputArgs>,
    handler: Handler<InputArgs, R | X>
  ) => RegisteredTool
  /** Runs an effect with the integration's runtime. */
  readonly runPromise: <A, E>(effect: Effect.Effect<A, E, R>, options?: { readonly signal?: AbortSignal }) => Promise<A>
  /** Disposes the runtime built from `layer` (also done when the server closes). */
  readonly dispose: () => Promise<void>
  /**
   * Interrupts the tool calls still running and waits until they have ended, their finalizers
   * and credential scopes included (done when the server closes, before `dispose`; the HTTP
   * layers wait for it when they close).
   */
  readonly interruptCalls: () => Promise<void>
}

const installations = Installations.make<McpServer, Installed<any>>("@mcp-credentials/server/McpCredentials/installed")
const wrapped = Symbol.for("@mcp-credentials/server/wrapped")
const listedKey = Symbol.for("@mcp-credentials/server/listed")
const guardedKey = Symbol.for("@mcp-credentials/server/guarded")

/**
 * The method a request schema handles (the SDK's own reading; `undefined` for a schema it
 * refuses), remembered per schema: the SDK's schemas are module constants, set once per server.
 */
const methods = new WeakMap<object, string | undefined>()
const methodOf = (schema: unknown): string | undefined => {
  if (typeof schema !== "object" || schema === null) return undefined
  if (methods.has(schema)) return methods.get(schema)
  let method: string | undefined
  try {
    method = getMethodLiteral(schema as never)
  } catch {
    method = undefined
  }
  methods.set(schema, method)
  return method
}

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
  const { requiredScopes, requireScopes } = components

  const errors: Pipeline.ErrorMode = options.errors ?? "result"
  // the default prefix is always hidden; configured ones are added to it
  const prefixes = ["X-MCP-Cred-", ...(options.credentialHeaderPrefixes ?? [])]
  const runner = Runner.makeRunner<R>(options)
  const { dispose, run } = runner

  // -- protocol layer: every tools/call ------------------------------------------------------
  const intercept = (handler: (request: any, extra: Extra) => Promise<unknown>) => {
    if ((handler as any)[wrapped]) return handler
    const onCall = async (request: any, extra: Extra): Promise<unknown> => {
      const toolName: string = String(request?.params?.name ?? "")
      const rawHeaders = extra.requestInfo?.headers
      const toolExtra: Extra = extra.requestInfo === undefined
        ? { ...extra }
        : { ...extra, requestInfo: withVisibleHeaders(extra.requestInfo, prefixes) }
      const toolContext = () => makeToolContext(toolName, toolExtra, server, request?.params)
      const call: CallContext.Call = { toolName, toolContext }
      const { frame, invoke, narrow } = Pipeline.prepareCall(server, toolExtra, call, () => handler(request, toolExtra))
      const untrack = outgoing.track(extra.requestId, frame)
      try {
        return await Pipeline.callTool({
          toolName,
          requirements: declarations.get(toolName) ?? [],
          requiredScopes: requiredScopes(toolName),
          grantedScopes: extra.authInfo?.scopes,
          context: { headers: rawHeaders, user: Pipeline.userOf(extra.authInfo) },
          extraSecrets: Pipeline.plainSecret(extra.authInfo?.token),
          errors,
          narrow,
          isProtocolError: (e) => e instanceof McpError,
          // Env and Header backends resolve on it without a fiber
          runtime: runner.runtime() as Runtime.Runtime<never> | undefined,
          // backends that elicit (the vault's CredentialsProvider) read the call's ToolContext
          services: () => Context.make(ToolContext.ToolContext, toolContext())
        }, invoke, run, extra.signal)
      } catch (e) {
        if (e instanceof Pipeline.JsonRpcFailure) {
          // the message as it goes on the wire: `McpError` prefixes it with `MCP error <code>: `, and
          // the client's `McpError` prefixes it again
          const error = new McpError(e.code, e.message, e.data)
          error.message = e.message
          throw error
        }
        throw e
      } finally {
        untrack()
      }
    }
    ;(onCall as any)[wrapped] = true
    return onCall
  }
  const protocol = server.server as any
  // what the server sends on its own while a tool runs (`extra.sendNotification` and
  // `sendRequest`, `sendLoggingMessage`, `createMessage`, `elicitInput`): scrubbed by the call
  const outgoing = Pipeline.makeOutgoing()
  const originalNotification = protocol.notification.bind(protocol)
  protocol.notification = (notification: unknown, options?: { readonly relatedRequestId?: unknown }) =>
    originalNotification(outgoing.scrub(notification, options?.relatedRequestId), options)
  const originalRequest = protocol.request.bind(protocol)
  protocol.request = (request: unknown, resultSchema: unknown, options?: { readonly relatedRequestId?: unknown }) =>
    originalRequest(outgoing.scrub(request, options?.relatedRequestId), resultSchema, options)
  // every other request (resources, prompts, completions, custom ones) passes untouched, but its
  // handler, like a tool, does not see the credential headers
  const hide = (handler: (request: any, extra: Extra) => unknown) => {
    if ((handler as any)[wrapped]) return handler
    const hidden = (request: any, extra: Extra) =>
      handler(request, extra.requestInfo === undefined ? extra : { ...extra, requestInfo: withVisibleHeaders(extra.requestInfo, prefixes) })
    ;(hidden as any)[wrapped] = true
    return hidden
  }
  // `listing: "authorized"`: the list requests offer only what the caller's scopes allow
  const listed = (method: string, handler: (request: any, extra: Extra) => unknown) => {
    const hidden = hide(handler)
    if (options.listing !== "authorized" || (hidden as any)[listedKey]) return hidden
    const filtered = async (request: any, extra: Extra) =>
      components.authorizedListing(method, await hidden(request, extra), extra.authInfo?.scopes)
    ;(filtered as any)[wrapped] = true
    ;(filtered as any)[listedKey] = true
    return filtered
  }
  // prompts and resources that require scopes: refused before their handler runs
  const guarded = (method: string, handler: (request: any, extra: Extra) => unknown) => {
    const hidden = hide(handler)
    if ((hidden as any)[guardedKey]) return hidden
    const checked = (request: any, extra: Extra) => {
      const refusal = components.refusalFor(method, request?.params, extra.authInfo?.scopes)
      if (refusal !== undefined) {
        const error = new McpError(refusal.code, refusal.message, refusal.data)
        error.message = refusal.message
        throw error
      }
      return hidden(request, extra)
    }
    ;(checked as any)[wrapped] = true
    ;(checked as any)[guardedKey] = true
    return checked
  }
  const wrapFor = (method: string | undefined, handler: any) =>
    method === "tools/call"
      ? intercept(handler)
      : method !== undefined && ComponentScopes.listMethods.has(method)
      ? listed(method, handler)
      : method !== undefined && ComponentScopes.guardedMethods.has(method)
      ? guarded(method, handler)
      : hide(handler)
  const originalSet = protocol.setRequestHandler.bind(protocol)
  protocol.setRequestHandler = (schema: any, handler: any) =>
    originalSet(schema, wrapFor(methodOf(schema), handler))
  const handlers: Map<string, any> = protocol._requestHandlers
  for (const [method, handler] of handlers) handlers.set(method, wrapFor(method, handler))

  // -- close: dispose the runtime built from `layer` -------------------------------------------
  const previousOnClose = server.server.onclose
  server.server.onclose = () => {
    previousOnClose?.()
    // the calls still running end first: none may run on a released layer
    runner.disposeAfterCalls()
  }

  // -- tools registered through the integration ------------------------------------------------
  const runHandler = (toolName: string, handler: (...args: Array<any>) => unknown, args: ReadonlyArray<any>, extra: Extra) =>
    Pipeline.runHandlerOfCall<X>(extra, {
      toolName,
      run,
      errors,
      bearerToken: extra.authInfo?.token,
      toolContext: () => makeToolContext(toolName, extra, server),
      context: options.context,
      signal: extra.signal
    }, handler, args) as Promise<CallToolResult>

  const registerTool: Installed<R, X>["registerTool"] = Pipeline.makeRegisterTool<Extra>({
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
 * The installation on `server`, if any (used by `McpHttpServer` to check per-tool scopes).
 *
 * @since 0.1.0
 * @category accessors
 */
export const installationOf = (server: McpServer): Installed<any> | undefined => installations.get(server)

/**
 * Sends Effect's log lines to stderr (logfmt). A stdio server must provide it: the default logger
 * writes to stdout, which is the protocol stream there, and the integration logs scrubs and
 * resolution failures. `McpCredentials.install(server, { layer: Layer.merge(backend, McpCredentials.layerLoggerStderr) })`
 *
 * @since 0.1.0
 * @category layers
 */
export const layerLoggerStderr: Layer.Layer<never> = Accessors.layerLoggerStderr

/**
 * The credential of the current tool call, for plain (non-Effect) tool code: synchronous, no
 * context argument (the Python library's `get_credentials()`). Works in any tool of a server with
 * the integration installed that declared the credential, including after `await`s; throws
 * `NoCredentialInScopeError` elsewhere, and once the call has ended.
 *
 * @since 0.1.0
 * @category accessors
 */
export const getCredentials: (name?: string) => ResolvedCredential = Accessors.getCredentials

/**
 * The value of a static credential's field, for plain tool code. Call it where the secret leaves
 * the process (the outgoing request).
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

// -----------------------------------------------------------------------------
// internals
// -----------------------------------------------------------------------------

/** Turns a handler's output into a `CallToolResult`. */
export const toCallToolResult = (output: unknown): CallToolResult => Runner.toToolResult(output) as CallToolResult

/**
 * The request context of the current tool call for plain (non-Effect) code, or `undefined`
 * outside a tool call of a server with an integration installed (either line): `ToolContext.current`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const currentToolContext: () => ToolContext.ToolContextShape | undefined = ToolContext.current

/**
 * `requestInfo` as a tool sees it: its `headers` without credential headers, gateway proofs,
 * `Authorization` and `Cookie`, filtered on first read (most tools never read them).
 */
const withVisibleHeaders = (
  requestInfo: NonNullable<Extra["requestInfo"]>,
  prefixes: ReadonlyArray<string>
): NonNullable<Extra["requestInfo"]> => {
  let headers: NonNullable<Extra["requestInfo"]>["headers"] | undefined
  return {
    ...requestInfo,
    get headers() {
      return (headers ??= ToolContext.visibleHeaders(requestInfo.headers, prefixes))
    },
    set headers(value) {
      headers = value
    }
  }
}

const makeToolContext = (
  toolName: string,
  extra: Extra,
  server?: McpServer,
  params?: { readonly name?: unknown; readonly arguments?: unknown }
): ToolContext.ToolContextShape =>
  ToolContextBuilder.make({
    toolName,
    scrubber: Pipeline.frameOf(extra)?.scrubber,
    authInfo: extra.authInfo,
    sessionId: extra.sessionId,
    requestId: extra.requestId,
    signal: extra.signal,
    progressToken: extra._meta?.progressToken,
    clientCapabilities: server?.server.getClientCapabilities() as Readonly<Record<string, unknown>> | undefined,
    params,
    headers: () => ToolContext.visibleHeaders(extra.requestInfo?.headers),
    notify: (notification, related) =>
      !related && server !== undefined
        ? server.server.notification(notification as any)
        : extra.sendNotification(notification as any),
    log: (level, data) => extra.sendNotification({ method: "notifications/message", params: { level, data, logger: toolName } }),
    elicit: (elicitParams, options) =>
      extra.sendRequest({ method: "elicitation/create", params: elicitParams as any }, ElicitResultSchema, options)
  })

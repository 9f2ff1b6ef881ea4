/**
 * The SDK-neutral tool-call pipeline: resolve the declared credentials, run the tool with them in
 * scope, scrub every secret from what comes back, and map failures to safe results.
 */
import { CredentialError, CredentialMiddleware, CurrentCredential, HeaderCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import * as Scrubber from "../Scrubber.js"
import { createHash } from "node:crypto"
import {
  type InputRequired,
  InputRequiredTypeId,
  isInputRequiredCarrier,
  isJsonRpcErrorCarrier,
  JsonRpcErrorTypeId,
  ToolContext as ToolContextTag,
  type ToolContextShape
} from "../ToolContext.js"
import * as ToolError from "../ToolError.js"
import * as CallContext from "./callContext.js"
import { isPromiseLike, toToolResult } from "./runner.js"

/** A tool result as MCP defines it (only the parts this pipeline touches). */
export interface ToolResult {
  readonly content: ReadonlyArray<unknown>
  readonly structuredContent?: unknown
  readonly isError?: boolean
  readonly [key: string]: unknown
}

/** How failures reach the client. */
export type ErrorMode = "result" | "jsonrpc"

/** A failure to be sent as a JSON-RPC error instead of a tool result. */
export class JsonRpcFailure {
  readonly _tag = "JsonRpcFailure"
  constructor(readonly code: number, readonly message: string, readonly data?: unknown) {}
}

/** JSON-RPC codes used in "jsonrpc" error mode. */
export const codes = {
  credential: -32001, // server error range: the tool's credentials could not be resolved
  scope: -32003, // the caller's token lacks a scope the tool requires
  tool: -32002, // the tool reported a failure
  internal: -32603,
  urlElicitationRequired: -32042 // MCP 2025-11-25: both SDKs let this error of a tool through
} as const

/**
 * A tool's failure that reaches the client as its own JSON-RPC error, whatever the error mode: a
 * `JsonRpcErrorTypeId` carrier, or the SDKs' URL-elicitation-required error (-32042), which the
 * bare SDKs pass through too.
 */
const ownJsonRpcError = (cause: Cause.Cause<unknown>): JsonRpcFailure | undefined => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "None") return undefined
  const e = failure.value
  const carried = carriedJsonRpcError(e)
  if (carried !== undefined) return carried
  if (e instanceof Error && (e as { code?: unknown }).code === codes.urlElicitationRequired) {
    return new JsonRpcFailure(codes.urlElicitationRequired, withoutSdkPrefix(e.message), (e as { data?: unknown }).data)
  }
  return undefined
}

/** The JSON-RPC error a `JsonRpcErrorTypeId` carrier holds, or `undefined`. */
const carriedJsonRpcError = (e: unknown): JsonRpcFailure | undefined => {
  if (!isJsonRpcErrorCarrier(e)) return undefined
  const rpc = e[JsonRpcErrorTypeId]
  return new JsonRpcFailure(rpc.code, e.message, rpc.data)
}

/**
 * A message without the prefix v1's `McpError` puts in it (`MCP error -32042: …`): the error sent
 * on is built again, and would carry it twice.
 */
const withoutSdkPrefix = (message: string): string => message.replace(/^MCP error -?\d+: /, "")

export const errorResult = (text: string): ToolResult => ({ content: [{ type: "text", text }], isError: true })

export const newCorrelationId = (): string => crypto.randomUUID()

/** A message a client may see for a failure of the tool itself, and what to log. */
export const describeFailure = (
  toolName: string,
  cause: Cause.Cause<unknown>
): { readonly message: string; readonly code: number; readonly log: boolean; readonly correlationId?: string } => {
  const failure = Cause.failureOption(cause)
  if (failure._tag === "Some") {
    const e = failure.value
    if (ToolError.isToolError(e)) return { message: e.message, code: codes.tool, log: false }
    if (CredentialError.isCredentialError(e)) return { message: e.message, code: codes.credential, log: false }
  }
  if (Cause.isInterruptedOnly(cause)) return { message: `Tool ${toolName} was cancelled.`, code: codes.internal, log: false }
  const correlationId = newCorrelationId()
  return {
    message: `Tool ${toolName} failed unexpectedly (correlation id ${correlationId}).`,
    code: codes.internal,
    log: true,
    correlationId
  }
}

/** Logs an unexpected failure with its detail, secrets scrubbed. */
export const logUnexpected = (
  toolName: string,
  correlationId: string,
  cause: Cause.Cause<unknown>,
  scrubber: Scrubber.Scrubber
): Effect.Effect<void> =>
  Effect.logError(`Tool ${toolName} failed unexpectedly`).pipe(
    Effect.annotateLogs({
      tool: toolName,
      correlationId,
      detail: scrubber.scrubString(Cause.pretty(cause)).value
    })
  )

export interface CallInput {
  readonly toolName: string
  readonly requirements: ReadonlyArray<CredentialMiddleware.Requirement>
  readonly context: CredentialMiddleware.CallContext
  /** Other secrets of the request to scrub (the inbound bearer token). */
  readonly extraSecrets: ReadonlyArray<string>
  readonly errors: ErrorMode
  /** Scopes the tool requires of the caller's token, and the scopes the token holds. */
  readonly requiredScopes?: ReadonlyArray<string> | undefined
  readonly grantedScopes?: ReadonlyArray<string> | undefined
  /**
   * Services the credential backends may read while resolving (the call's `ToolContext`, so a
   * backend can elicit from the client). Built only when the tool declares credentials.
   */
  readonly services?: (() => Context.Context<never>) | undefined
  /**
   * The runtime the call's effects run on, once built: backends that can resolve without a fiber
   * (`CredentialBackend.unsafeResolve`: Env, Header) are called directly on it.
   */
  readonly runtime?: Runtime.Runtime<never> | undefined
  /**
   * The tool's handler was registered through the integration and enters the call's storages
   * itself, around the handler only (`enterCall`): the pipeline does not enter them around the
   * SDK's whole dispatch, whose promises would all pay Node's hooks.
   */
  readonly narrow?: boolean | undefined
  /**
   * Turns an input-required failure of resolution (`ToolContext.InputRequiredTypeId`) into the
   * SDK's input-required result. Lines without one leave it out: the failure is then an error.
   */
  readonly inputRequired?: ((signal: InputRequired) => ToolResult) | undefined
  /**
   * The line's own JSON-RPC error class (v1 `McpError`, v2 `ProtocolError`): what the SDK's
   * dispatch throws to be sent as an error (an unknown tool, invalid arguments), passed on as the
   * bare SDK sends it. Anything else it throws is a failure of the call.
   */
  readonly isProtocolError?: ((e: unknown) => boolean) | undefined
}

/** The required scopes the caller lacks. */
export const missingScopes = (required: ReadonlyArray<string>, granted: ReadonlyArray<string> | undefined) =>
  required.filter((s) => !(granted ?? []).includes(s))

/** The message of a refusal for missing scopes (names the scopes, which are not secret). */
export const insufficientScopeMessage = (toolName: string, missing: ReadonlyArray<string>, anonymous = false) =>
  anonymous
    ? `Tool ${toolName} requires the scope(s) ${missing.join(", ")}, and the call has no access token. ` +
      `Call it with an access token that grants them.`
    : `Tool ${toolName} requires the scope(s) ${missing.join(", ")}, which the access token does not grant. ` +
      `Authorize again with these scopes.`

/** The secret values of `credentials`, after `extra`. */
const secretsOf = (credentials: Iterable<ResolvedCredential.ResolvedCredential>, extra: ReadonlyArray<string>): Array<string> => {
  const secrets: Array<string> = [...extra]
  for (const c of credentials) secrets.push(...ResolvedCredential.secretValues(c))
  return secrets
}

/** Runs an effect on the integration's runtime. */
export type Run = <A, E>(effect: Effect.Effect<A, E, any>, signal?: AbortSignal) => Promise<Exit.Exit<A, E>>

const scrubResult = (toolName: string, scrubber: Scrubber.Scrubber, result: ToolResult, run: Run): ToolResult => {
  const { count, value } = scrubber.scrub(result)
  if (count > 0) {
    void run(
      Effect.logWarning(`Scrubbed ${count} secret occurrence(s) from the result of tool ${toolName}`).pipe(
        Effect.annotateLogs({ tool: toolName, occurrences: count })
      )
    )
  }
  return value
}

/** A failure of the call itself (not a tool result): a generic message, logged with its detail. */
const unexpected = async (
  input: CallInput,
  cause: Cause.Cause<unknown>,
  scrubber: Scrubber.Scrubber,
  run: Run
): Promise<ToolResult> => {
  const d = describeFailure(input.toolName, cause)
  if (d.log) await run(logUnexpected(input.toolName, d.correlationId!, cause, scrubber))
  const message = scrubber.scrubString(d.message).value
  if (input.errors === "jsonrpc") throw new JsonRpcFailure(d.code, message)
  return errorResult(message)
}

/**
 * Runs one tool call: checks the token's scopes, resolves the declared credentials, calls
 * `invoke` (the SDK's own dispatch) with them in scope — visible to `getCredentials()` and to
 * Effect tools — closes the scope when the call ends or is aborted, and scrubs every secret from
 * the result. Credential errors become a safe `isError` result; in "jsonrpc" mode failures are
 * thrown as `JsonRpcFailure`. Plain promises, and no runtime entry when the backends resolve
 * synchronously (Env, Header): this is the per-call hot path.
 */
export const callTool = async (
  input: CallInput,
  invoke: (scope: CurrentCredential.CredentialScope | undefined, scrubber: Scrubber.Scrubber) => Promise<ToolResult>,
  run: Run,
  signal: AbortSignal
): Promise<ToolResult> => {
  const missing = missingScopes(input.requiredScopes ?? [], input.grantedScopes)
  if (missing.length > 0) {
    const message = insufficientScopeMessage(input.toolName, missing, input.grantedScopes === undefined)
    if (input.errors === "jsonrpc") throw new JsonRpcFailure(codes.scope, message, { error: "insufficient_scope", missing })
    return errorResult(message)
  }

  const invokeScrubbed = async (scrubber: Scrubber.Scrubber, scope?: CurrentCredential.CredentialScope): Promise<ToolResult> => {
    let result: ToolResult
    try {
      result = await invoke(scope, scrubber)
    } catch (e) {
      if (e instanceof JsonRpcFailure) {
        throw new JsonRpcFailure(e.code, scrubber.scrubString(e.message).value, scrubber.scrub(e.data).value)
      }
      if (input.isProtocolError?.(e) === true) {
        // passed on as the bare SDK would send it, scrubbed
        const sdk = e as { readonly code: number; readonly message: string; readonly data?: unknown }
        throw new JsonRpcFailure(
          sdk.code,
          scrubber.scrubString(withoutSdkPrefix(sdk.message)).value,
          sdk.data === undefined ? undefined : scrubber.scrub(sdk.data).value
        )
      }
      return unexpected(input, Cause.die(e), scrubber, run)
    }
    return scrubResult(input.toolName, scrubber, result, run)
  }

  if (input.requirements.length === 0) return invokeScrubbed(Scrubber.make(input.extraSecrets))

  const credentials = resolveSync(input) ?? await resolveWithEffect(input, run, signal)
  if (!isCredentials(credentials)) return credentials
  // closed when the call ends, and as soon as the client cancels it
  const scope = new CurrentCredential.CredentialScope(credentials, signal)
  try {
    const scrubber = Scrubber.make(secretsOf(credentials.values(), input.extraSecrets))
    return await (input.narrow === true
      ? invokeScrubbed(scrubber, scope)
      : CurrentCredential.unsafeRunInScope(scope, () => invokeScrubbed(scrubber, scope)))
  } finally {
    scope.close()
  }
}

const isCredentials = (u: CurrentCredential.Credentials | ToolResult): u is CurrentCredential.Credentials => u instanceof Map

/**
 * Resolution without a fiber, when the runtime is built and every backend can answer at once;
 * `undefined` otherwise, also for a failure or a defect, which the fiber path then reports.
 */
const resolveSync = (input: CallInput): CurrentCredential.Credentials | undefined => {
  if (input.runtime === undefined) return undefined
  try {
    return CredentialMiddleware.unsafeResolveAll(input.requirements, input.context, input.runtime)
  } catch {
    return undefined
  }
}

/** Resolution in a fiber: the credentials, or the result (or thrown failure) that ends the call. */
const resolveWithEffect = async (
  input: CallInput,
  run: Run,
  signal: AbortSignal
): Promise<CurrentCredential.Credentials | ToolResult> => {
  const resolve = CredentialMiddleware.resolveAll(input.requirements, input.context)
  const resolved = await run(input.services === undefined ? resolve : Effect.provide(resolve, input.services()), signal)
  if (Exit.isFailure(resolved)) {
    const failure = Cause.failureOption(resolved.cause)
    if (failure._tag === "None") return unexpected(input, resolved.cause, Scrubber.make(input.extraSecrets), run)
    const e = failure.value
    if (input.inputRequired !== undefined && isInputRequiredCarrier(e)) {
      // 2026-07-28: the call ends with an input-required result; the client retries
      return input.inputRequired(e[InputRequiredTypeId])
    }
    // a failure that must reach the client as its own JSON-RPC error (URL elicitation required)
    const carried = carriedJsonRpcError(e)
    if (carried !== undefined) throw carried
    const message = safeFailureMessage(input, e.message)
    await run(
      Effect.logWarning(`Credential resolution failed for tool ${input.toolName}: ${message}`).pipe(
        Effect.annotateLogs({ tool: input.toolName, error: e._tag })
      )
    )
    if (input.errors === "jsonrpc") throw new JsonRpcFailure(codes.credential, message, { error: e._tag })
    return errorResult(message)
  }
  return resolved.value
}

/**
 * A resolution failure's message, as safe to send and log as a result: the built-in backends
 * never quote a value, but a backend of the application might. Scrubbed of the bearer token and
 * of the `X-MCP-Cred-*` header values of the request: each raw value, and the values inside a
 * JSON one (`X-MCP-Cred-Fields`).
 */
const safeFailureMessage = (input: CallInput, message: string): string => {
  const secrets = [...input.extraSecrets]
  const add = (v: string) => {
    secrets.push(v)
    const t = v.trim()
    if (!t.startsWith("{") && !t.startsWith("[")) return
    try {
      const parsed: unknown = JSON.parse(t)
      if (typeof parsed !== "object" || parsed === null) return
      for (const x of Object.values(parsed)) {
        if (typeof x === "string") secrets.push(x)
        else if (typeof x === "number" || typeof x === "boolean") secrets.push(String(x))
      }
    } catch {
      // not JSON: the raw value is enough
    }
  }
  const headers = input.context.headers
  if (headers !== undefined) {
    for (const name in headers) {
      if (!HeaderCredentialBackend.isCredentialHeader(name)) continue
      const v = headers[name]
      if (typeof v === "string") add(v)
      else if (v !== undefined) for (const each of v) add(each)
    }
  }
  return Scrubber.make(secrets).scrubString(message).value
}

/** The plain value of a token, for the scrubber. */
export const plainSecret = (token: string | Redacted.Redacted<string> | undefined): ReadonlyArray<string> =>
  token === undefined ? [] : [typeof token === "string" ? token : Redacted.value(token)]

/**
 * A scrubber for the call's secrets and the bearer token, built on first use: the call's own
 * scrubber when known (its frame keeps the one `callTool` built), else one for the credentials in
 * `scope` at this moment. Either way it still knows them after the scope closes (a cancelled call
 * that logs its failure, a notification sent late, a ToolContext built after the client
 * cancelled).
 */
export const scrubberSnapshot = (
  scope: CurrentCredential.CredentialScope | undefined,
  bearerToken: string | undefined,
  callScrubber?: Scrubber.Scrubber | undefined
): () => Scrubber.Scrubber => {
  if (callScrubber !== undefined) return () => callScrubber
  // read now: the scope may close, and a tool may wipe a credential's values, before the use
  const fromScope: Array<ResolvedCredential.ResolvedCredential> = []
  for (const name of scope?.names() ?? []) {
    const credential = scope?.get(name)
    if (credential !== undefined) fromScope.push(credential)
  }
  const secrets = secretsOf(fromScope, plainSecret(bearerToken))
  let built: Scrubber.Scrubber | undefined
  return () => (built ??= Scrubber.make(secrets))
}

/** The caller, from the SDK's `AuthInfo`: its `sub` claim, else its client id. */
export const userOf = (
  authInfo: { readonly clientId: string; readonly extra?: Record<string, unknown> | undefined } | undefined
): { readonly subject: string } | undefined => {
  if (authInfo === undefined) return undefined
  const sub = authInfo.extra?.sub
  return { subject: typeof sub === "string" ? sub : authInfo.clientId }
}

/**
 * `ToolContext.requestDigest`: SHA-256 (base64url) of the method, tool and arguments, object keys
 * in sorted order (a client that sends the same arguments again in another order makes the same
 * request); the same on both SDK lines.
 */
export const requestDigest = (toolName: string, args: unknown): string =>
  createHash("sha256").update(JSON.stringify(["tools/call", toolName, args ?? null], sortedKeys), "utf8").digest("base64url")

const sortedKeys = (_key: string, value: unknown): unknown =>
  value !== null && typeof value === "object" && !Array.isArray(value)
    ? Object.fromEntries(Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]]))
    : value

/**
 * What the interception knows of a call, attached to the SDK's context object it passes on (an
 * enumerable symbol property, so the SDK's own copies of the context keep it): the call for
 * `currentToolContext()`, the credential scope, and where a "jsonrpc"-mode failure is left.
 */
export interface CallFrame {
  readonly call: CallContext.Call
  readonly state: { failure?: JsonRpcFailure }
  scope: CurrentCredential.CredentialScope | undefined
  /**
   * The call's scrubber (its credentials' secrets and the bearer token), built once by
   * `callTool`, for what the tool sends even after the scope closed.
   */
  scrubber: Scrubber.Scrubber | undefined
}

const frameKey = Symbol.for("@mcp-credentials/server/CallFrame")

export const frameOf = (ctx: unknown): CallFrame | undefined =>
  typeof ctx === "object" && ctx !== null ? (ctx as any)[frameKey] : undefined

/**
 * Marks the callbacks `makeRegisterTool` gave the SDKs (their calls enter the storages
 * themselves): a property, not a WeakSet, since a per-request server registers its tools again on
 * every request, and weak collections cost microseconds per entry and slow young-generation GCs.
 */
const ownHandler = Symbol("@mcp-credentials/server/ownHandler")

/** Whether the tool `name` of `server` (either SDK line: `_registeredTools[name].handler`) is ours. */
const isOwnTool = (server: unknown, name: string): boolean => {
  const handler = (server as { _registeredTools?: Record<string, { handler?: unknown } | undefined> })._registeredTools?.[name]?.handler
  return typeof handler === "function" && (handler as any)[ownHandler] === true
}

/**
 * Sets up one intercepted call, the same on both SDK lines: its frame, attached to `ctx` (the SDK
 * context the interception passes on), and `callTool`'s `narrow` and `invoke`. `invoke` runs
 * `dispatch` (the SDK's own handling of the call) inside the call's storages, unless the tool's
 * handler is one `makeRegisterTool` registered (a narrow call: it enters them itself, around the
 * tool only), and throws a "jsonrpc"-mode failure the handler left in the frame.
 */
export const prepareCall = (
  server: unknown,
  ctx: object,
  call: CallContext.Call,
  dispatch: () => Promise<unknown>
): {
  readonly frame: CallFrame
  readonly narrow: boolean
  readonly invoke: (scope: CurrentCredential.CredentialScope | undefined, scrubber: Scrubber.Scrubber) => Promise<ToolResult>
} => {
  const frame: CallFrame = { call, state: {}, scope: undefined, scrubber: undefined }
  ;(ctx as any)[frameKey] = frame
  ;(call as any)[callFrameKey] = frame
  const narrow = isOwnTool(server, call.toolName)
  const invoke = async (scope: CurrentCredential.CredentialScope | undefined, scrubber: Scrubber.Scrubber) => {
    frame.scope = scope
    frame.scrubber = scrubber
    const result = await (narrow ? dispatch() : CallContext.run(call, dispatch))
    if (frame.state.failure !== undefined) throw frame.state.failure
    return result as ToolResult
  }
  return { frame, narrow, invoke }
}

/**
 * The frame of each call, for what is sent while the call's code runs (`Outgoing`): a property of
 * the call (a `WeakMap` entry per call costs the GC, see `ownHandler`).
 */
const callFrameKey = Symbol.for("@mcp-credentials/server/CallFrame/ofCall")
const frameOfCall = (call: CallContext.Call): CallFrame | undefined => (call as any)[callFrameKey]

/**
 * What a server sends the client on its own while tools run — notifications (`notifications/message`
 * from `sendLoggingMessage` or the context's `log`, progress, custom ones) and requests (sampling,
 * elicitation, `ctx.mcpReq.send`) — scrubbed as a result is: each SDK line routes its senders
 * through `scrub`. The call is found by the request the message relates to (the SDKs pass the
 * tool call's id) and by the call whose code is running; a message neither knows passes as it is.
 */
export interface Outgoing {
  /** Marks `frame` as the call of request `id` until the returned function is called. */
  readonly track: (id: unknown, frame: CallFrame) => () => void
  readonly scrub: <A>(message: A, relatedRequestId: unknown) => A
}

export const makeOutgoing = (): Outgoing => {
  const inFlight = new Map<unknown, CallFrame>()
  // the scrubbers of this server's calls that ended lately, with when: for a message no call is
  // found for. Only this server's own calls (a server serves one session, or one request), so a
  // client never sees what another client's secrets do to its messages (that would tell it
  // which of its guesses is another user's value)
  const recent = new Map<Scrubber.Scrubber, number>()
  const scrubWith = <A>(frame: CallFrame | undefined, message: A): A =>
    frame?.scrubber === undefined || frame.scrubber.isEmpty ? message : frame.scrubber.scrub(message).value
  const scrubKnown = <A>(message: A): A => {
    let out = message
    const used = new Set<Scrubber.Scrubber>()
    for (const frame of inFlight.values()) {
      const s = frame.scrubber
      if (s === undefined || s.isEmpty || used.has(s)) continue
      used.add(s)
      out = s.scrub(out).value
    }
    const oldest = Date.now() - recentMillis
    for (const [s, at] of recent) {
      if (at < oldest) recent.delete(s)
      else if (!used.has(s)) out = s.scrub(out).value
    }
    return out
  }
  return {
    track: (id, frame) => {
      inFlight.set(id, frame)
      return () => {
        if (inFlight.get(id) === frame) inFlight.delete(id)
        const s = frame.scrubber
        if (s === undefined || s.isEmpty) return
        recent.delete(s)
        recent.set(s, Date.now())
        if (recent.size > recentMax) recent.delete(recent.keys().next().value!)
      }
    },
    scrub: (message, relatedRequestId) => {
      const related = relatedRequestId === undefined ? undefined : inFlight.get(relatedRequestId)
      const call = CallContext.current()
      const running = call === undefined ? undefined : frameOfCall(call)
      // no call known (a tool's timer after its call returned, with no call running now): the
      // secrets of this server's calls in flight and of those that ended lately
      if (related === undefined && running === undefined) return scrubKnown(message)
      const once = scrubWith(related, message)
      return running === related ? once : scrubWith(running, once)
    }
  }
}

/** How many ended calls' scrubbers a server keeps for late messages, and for how long. */
const recentMax = 64
const recentMillis = 10 * 60_000

/**
 * Runs `f` inside the call's storages (credential scope, call context) when the interception did
 * not enter them around the dispatch (a narrow call); as it is otherwise.
 */
export const enterCall = <A>(frame: CallFrame | undefined, f: () => A): A => {
  if (frame === undefined || CallContext.current() === frame.call) return f()
  const withCall = () => CallContext.run(frame.call, f)
  return frame.scope === undefined ? withCall() : CurrentCredential.unsafeRunInScope(frame.scope, withCall)
}

/** What running a tool handler registered through the integration needs from its SDK line. */
export interface HandlerCall<X> {
  readonly toolName: string
  readonly run: Run
  readonly errors: ErrorMode
  readonly bearerToken: string | undefined
  /**
   * The call's `ToolContext` when the interception did not set the call up (no frame); with a
   * frame, the frame's call builds it. Built only for Effect handlers.
   */
  readonly toolContext: () => ToolContextShape
  readonly context: ((tool: ToolContextShape) => Context.Context<X>) | undefined
  readonly signal: AbortSignal | undefined
  /**
   * What the interception set up for the call: its call, credential scope (`undefined`: none
   * declared), scrubber and where a "jsonrpc"-mode failure is left. Without one (a call the
   * interception did not see), the call and scope are read from the async context.
   */
  readonly frame: CallFrame | undefined
}

/**
 * Runs a tool handler (Effect, promise or plain value) inside the call's credential scope and
 * turns its output, or its failure, into a tool result. SDK-neutral: both lines call it.
 */
export const runToolHandler = async <X>(
  call: HandlerCall<X>,
  handler: (...args: Array<any>) => unknown,
  args: ReadonlyArray<any>
): Promise<ToolResult> => {
  const frame = call.frame
  const scope = frame !== undefined ? frame.scope : CurrentCredential.unsafeCurrentScope()
  // the secrets of the call as they are now: a cancellation closes the scope before the failure
  // is logged
  const scrubber = scrubberSnapshot(scope, call.bearerToken, frame?.scrubber)
  const fail = async (cause: Cause.Cause<unknown>): Promise<ToolResult> => {
    const rpc = ownJsonRpcError(cause)
    if (rpc !== undefined && frame !== undefined) {
      // thrown by the interception (scrubbed there) once the SDK's dispatch returns
      frame.state.failure = rpc
      return errorResult(rpc.message)
    }
    const d = describeFailure(call.toolName, cause)
    if (d.log) await call.run(logUnexpected(call.toolName, d.correlationId!, cause, scrubber()))
    if (call.errors === "jsonrpc" && frame !== undefined) frame.state.failure = new JsonRpcFailure(d.code, d.message)
    return errorResult(d.message)
  }
  let output: unknown
  try {
    output = handler(...args)
  } catch (thrown) {
    return fail(Cause.fail(thrown))
  }
  if (Effect.isEffect(output)) {
    // the call's own (built with its request: `requestDigest`, the round)
    const toolContext = frame !== undefined ? frame.call.toolContext() as ToolContextShape : call.toolContext()
    let effect = Effect.provideService(output as Effect.Effect<unknown, unknown, any>, ToolContextTag, toolContext)
    if (call.context !== undefined) effect = Effect.provide(effect, call.context(toolContext))
    // the fiber carries its call and scope (none: an empty one): a fiber woken by another call's
    // fiber goes on in that call's async context, which plain code must not read. The fiber is
    // the call's own (`run` starts one, which ends with the call): set, not `locally`.
    const owner = frame?.call ?? CallContext.current()
    const setup = CurrentCredential.unsafeSetFiberScope(scope)
    effect = Effect.zipRight(owner !== undefined ? Effect.zipRight(setup, CallContext.setOfFiber(owner)) : setup, effect)
    // plain code the tool calls through `callWithScope` reads the scope while the fiber runs
    const release = scope !== undefined ? CurrentCredential.unsafeHoldAsyncScope() : undefined
    let exit: Exit.Exit<unknown, unknown>
    try {
      exit = await call.run(effect, call.signal)
    } finally {
      release?.()
    }
    return Exit.isSuccess(exit) ? toToolResult(exit.value) : fail(exit.cause)
  }
  if (isPromiseLike(output)) {
    try {
      return toToolResult(await output)
    } catch (thrown) {
      return fail(Cause.fail(thrown))
    }
  }
  return toToolResult(output)
}

/**
 * Runs a handler registered through the integration for the call whose SDK context is `ctx`:
 * inside the call's storages (entered here for a narrow call) with the call's state.
 */
export const runHandlerOfCall = <X>(
  ctx: unknown,
  call: Omit<HandlerCall<X>, "frame">,
  handler: (...args: Array<any>) => unknown,
  args: ReadonlyArray<any>
): Promise<ToolResult> => {
  const frame = frameOf(ctx)
  return enterCall(frame, () => runToolHandler<X>({ ...call, frame }, handler, args))
}

/**
 * An installation's `registerTool`, the same on both SDK lines: declares the tool's credentials
 * and scopes, then registers it with the SDK (`sdkRegister`, the server's own `registerTool`)
 * with a callback that runs the handler through `runHandler` (with `(ctx)` or `(args, ctx)`, as
 * the SDK calls it).
 */
export const makeRegisterTool = <Ctx>(options: {
  readonly sdkRegister: (name: string, config: object, callback: (...args: Array<any>) => unknown) => unknown
  readonly declare: (toolName: string, credentials: any) => void
  readonly requireScopes: (toolName: string, scopes: ReadonlyArray<string>) => void
  /**
   * The installation's `tools` and `toolScopes`: what a tool registered without `credentials` or
   * `scopes` keeps (registering it must not drop a requirement set at install).
   */
  readonly defaults: {
    readonly tools?: Readonly<Record<string, unknown>> | undefined
    readonly toolScopes?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  }
  readonly runHandler: (
    toolName: string,
    handler: (...args: Array<any>) => unknown,
    args: ReadonlyArray<any>,
    ctx: Ctx
  ) => Promise<unknown>
}) =>
(
  name: string,
  config: { readonly credentials?: unknown; readonly scopes?: ReadonlyArray<string> | undefined; readonly inputSchema?: unknown },
  handler: (...args: Array<any>) => unknown
): any => {
  const { credentials, scopes, ...sdkConfig } = config
  options.declare(name, credentials ?? ownValue(options.defaults.tools, name))
  options.requireScopes(name, scopes ?? ownValue(options.defaults.toolScopes, name) ?? [])
  const callback = sdkConfig.inputSchema === undefined
    ? (ctx: Ctx) => options.runHandler(name, handler, [ctx], ctx)
    : (args: unknown, ctx: Ctx) => options.runHandler(name, handler, [args, ctx], ctx)
  ;(callback as any)[ownHandler] = true
  return options.sdkRegister(name, sdkConfig, callback)
}

const ownValue = <A>(record: Readonly<Record<string, A>> | undefined, key: string): A | undefined =>
  record !== undefined && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined

/** An installation's `runPromise`: the effect's value, or a rejection with its squashed cause. */
export const runPromiseWith = (run: Run) =>
<A, E>(effect: Effect.Effect<A, E, any>, options?: { readonly signal?: AbortSignal | undefined }): Promise<A> =>
  run(effect, options?.signal).then((exit) => (Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))))

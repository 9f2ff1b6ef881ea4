/**
 * What an Effect tool can know of its request, SDK-neutral: `yield* ToolContext.ToolContext`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as CallContext from "./internal/callContext.js"

/**
 * The caller's verified identity as the transport's auth middleware gave it.
 *
 * @since 0.1.0
 * @category models
 */
export interface AuthInfo {
  readonly token: Redacted.Redacted<string>
  readonly clientId: string
  readonly scopes: ReadonlyArray<string>
  readonly expiresAt?: number | undefined
  readonly extra?: Readonly<Record<string, unknown>> | undefined
}

/**
 * Log levels of MCP logging notifications.
 *
 * @since 0.1.0
 * @category models
 */
export type LogLevel = "debug" | "info" | "notice" | "warning" | "error" | "critical" | "alert" | "emergency"

/**
 * @since 0.1.0
 * @category models
 */
export interface ToolContextShape {
  readonly toolName: string
  /**
   * The request's HTTP headers (lowercase names), without credential headers (`X-MCP-Cred-*`),
   * gateway proofs (`X-MCP-Gateway-*`), `Authorization`, `Proxy-Authorization` and `Cookie`,
   * so a tool cannot forward or echo them. Empty over stdio.
   */
  readonly headers: Readonly<Record<string, string>>
  readonly authInfo: Option.Option<AuthInfo>
  readonly sessionId: Option.Option<string>
  readonly requestId: string | number
  /** Aborted when the client cancels the call; the tool's fiber is interrupted too. */
  readonly signal: AbortSignal
  /** Sends a progress notification when the client asked for progress; otherwise does nothing. */
  readonly progress: (progress: number, options?: { readonly total?: number; readonly message?: string }) => Effect.Effect<void>
  /** Sends an MCP logging notification to the client (requires the server's `logging` capability). */
  readonly log: (level: LogLevel, data: unknown) => Effect.Effect<void>
  /**
   * Sends an `elicitation/create` request to the client on this call's stream and returns its
   * answer (form mode, or URL mode with `mode: "url"`). It waits up to `timeout` (default the
   * SDK's 60 s; at most ~24.8 days, which `Duration.infinity` means) for the answer;
   * interrupting the effect cancels the request.
   */
  readonly elicit: (
    params: Readonly<Record<string, unknown>>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<ElicitResult, ElicitationError>
  /**
   * The capabilities the client declared at `initialize` (e.g. `{ elicitation: { url: {} } }`);
   * `undefined` when unknown (stateless mode, or an SDK line without `initialize`).
   */
  readonly clientCapabilities?: Readonly<Record<string, unknown>> | undefined
  /**
   * Sends a notification to the client: on this call's stream (`related`, the default) while the
   * call is open, or on the session's stream (`related: false`), which stays usable after the
   * call has ended (e.g. `notifications/elicitation/complete` after a fail-fast elicitation).
   * Failures to deliver are ignored.
   */
  readonly notify?: ((
    method: string,
    params: Readonly<Record<string, unknown>>,
    options?: { readonly related?: boolean | undefined }
  ) => Effect.Effect<void>) | undefined
  /**
   * A digest (SHA-256, base64url) of the call's tool name and arguments, so that an elicitation
   * can be bound to the request that started it. Never holds the arguments themselves.
   */
  readonly requestDigest?: string | undefined
  /**
   * The protocol revision the call was sent on (`"2026-07-28"`), when the SDK line knows it;
   * `undefined` on the v1 line (2025-11-25 and earlier).
   */
  readonly protocolVersion?: string | undefined
  /**
   * 2026-07-28 multi-round-trip retries: the `requestState` the client echoed, as received. It
   * round-trips through the client, so it is attacker-controlled: verify it before trusting it
   * (the vault's `RequestState.unseal`). Never log it.
   */
  readonly requestState?: string | undefined
  /**
   * 2026-07-28 multi-round-trip retries: the client's bare answers to the embedded input requests
   * of the previous round, keyed as the server keyed them. Untrusted input.
   */
  readonly inputResponses?: Readonly<Record<string, unknown>> | undefined
}

/**
 * Marks a failure that must reach the client as a JSON-RPC error with a given code and data
 * whatever the integration's error mode (e.g. `-32042` URL elicitation required). The property
 * holds `{ code, data }`; the message is the error's `message`.
 *
 * @since 0.1.0
 * @category symbols
 */
export const JsonRpcErrorTypeId: unique symbol = Symbol.for("@mcp-credentials/server/JsonRpcError") as any

/**
 * A failure that carries its own JSON-RPC error.
 *
 * @since 0.1.0
 * @category models
 */
export interface JsonRpcErrorCarrier {
  readonly message: string
  readonly [JsonRpcErrorTypeId]: { readonly code: number; readonly data?: unknown }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isJsonRpcErrorCarrier = (u: unknown): u is JsonRpcErrorCarrier =>
  typeof u === "object" && u !== null && JsonRpcErrorTypeId in u

/**
 * Marks a failure that ends a 2026-07-28 tool call with an input-required result instead of an
 * error: the property holds the embedded input requests (wire shape, e.g. `{ method:
 * "elicitation/create", params: { mode: "url", message, url } }`) and the `requestState` the client
 * echoes on its retry. An SDK line that has no input-required result treats it as a plain failure
 * (its `message`).
 *
 * @since 0.1.0
 * @category symbols
 */
export const InputRequiredTypeId: unique symbol = Symbol.for("@mcp-credentials/server/InputRequired") as any

/**
 * What an input-required failure carries (SDK-neutral).
 *
 * @since 0.1.0
 * @category models
 */
export interface InputRequired {
  readonly inputRequests: Readonly<Record<string, { readonly method: string; readonly params?: Readonly<Record<string, unknown>> }>>
  readonly requestState?: string | undefined
}

/**
 * A failure that ends the call with an input-required result.
 *
 * @since 0.1.0
 * @category models
 */
export interface InputRequiredCarrier {
  readonly message: string
  readonly [InputRequiredTypeId]: InputRequired
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isInputRequiredCarrier = (u: unknown): u is InputRequiredCarrier =>
  typeof u === "object" && u !== null && InputRequiredTypeId in u

/**
 * @since 0.1.0
 * @category models
 */
export interface ElicitResult {
  readonly action: "accept" | "decline" | "cancel"
  readonly content?: Readonly<Record<string, unknown>> | undefined
}

/**
 * The client refused or failed an elicitation request.
 *
 * @since 0.1.0
 * @category errors
 */
export class ElicitationError extends Error {
  readonly _tag = "ElicitationError"
}

/**
 * The request context of the current tool call, for plain (non-Effect) code, or `undefined`
 * outside a tool call of a server with an integration installed. Works on both SDK lines and
 * imports neither, so libraries can read it from `@mcp-credentials/server/ToolContext` without
 * pulling an SDK in (`McpCredentials.currentToolContext` and `McpCredentialsV2.currentToolContext`
 * are this function).
 *
 * Inside an Effect fiber it is the fiber's call, never the async context's: a fiber that is no
 * tool call's (an application's worker, or one that plain tool code starts) goes on in the async
 * context of whichever call's fiber woke it last. Give a fiber that plain tool code starts its
 * call as a service:
 * `Effect.runPromise(Effect.provideService(effect, ToolContext.ToolContext, ToolContext.current()!))`.
 *
 * @since 0.1.0
 * @category accessors
 */
export const current = (): ToolContextShape | undefined => CallContext.currentToolContext(ToolContext)

/**
 * @since 0.1.0
 * @category tags
 */
export class ToolContext extends Context.Tag("@mcp-credentials/server/ToolContext")<ToolContext, ToolContextShape>() {}

/**
 * Headers never shown to a tool.
 *
 * @since 0.1.0
 * @category constants
 */
export const hiddenHeaders: ReadonlyArray<string> = ["authorization", "proxy-authorization", "cookie"]

/**
 * Whether a header is kept in `ToolContext.headers` (and in the SDK's `extra.requestInfo.headers`).
 *
 * @since 0.1.0
 * @category predicates
 */
export const isVisibleHeader = (name: string, credentialPrefixes: ReadonlyArray<string> = ["x-mcp-cred-"]): boolean => {
  const lower = name.toLowerCase()
  if (hiddenHeaders.includes(lower) || lower.startsWith("x-mcp-gateway-")) return false
  return !credentialPrefixes.some((p) => lower.startsWith(p.toLowerCase()))
}

/**
 * The visible part of a header map, names lowercased, repeated values joined with `, `.
 *
 * @since 0.1.0
 * @category constructors
 */
export const visibleHeaders = (
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>> | undefined,
  credentialPrefixes?: ReadonlyArray<string>
): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers === undefined) return out
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || !isVisibleHeader(k, credentialPrefixes)) continue
    out[k.toLowerCase()] = typeof v === "string" ? v : v.join(", ")
  }
  return out
}

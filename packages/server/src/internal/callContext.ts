/**
 * The current tool call for plain code: its name and the SDK's `extra`, in an
 * `AsyncLocalStorage` (a `CallStorage`) set around the SDK's tool dispatch.
 */
import { CallStorage } from "@mcp-credentials/core"
import { globalValue } from "effect/GlobalValue"

export interface Call {
  readonly toolName: string
  readonly extra: unknown
  /**
   * The call's `ToolContext`, for calls whose `extra` is not the v1 SDK's (set by
   * `McpCredentialsV2`); v1 calls leave it unset and are read by the builder `McpCredentials`
   * registers (`setDefaultToolContext`), so that `ToolContext.current()` works on every line.
   */
  readonly toolContext?: (() => unknown) | undefined
}

const storage = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/CallStorage"),
  // Node's promise hooks only while a call runs (see CallStorage)
  () => CallStorage.make<Call>()
)

export const run = <A>(call: Call, f: () => A): A => storage.run(call, f)

export const current = (): Call | undefined => storage.get()

// the builder for v1 calls, registered by `McpCredentials` when it loads (a v1 call can only exist
// once it has): the SDK-neutral modules read any call's context without importing an SDK line
const defaults = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/defaultToolContext"),
  (): { build: ((call: Call) => unknown) | undefined } => ({ build: undefined })
)

export const setDefaultToolContext = (build: (call: Call) => unknown): void => {
  defaults.build = build
}

/** The `ToolContext` of the current call (either SDK line), or `undefined` outside one. */
export const currentToolContext = (): unknown => {
  const call = storage.get()
  if (call === undefined) return undefined
  return call.toolContext !== undefined ? call.toolContext() : defaults.build?.(call)
}

/**
 * The current tool call for plain code: its name and the SDK's `extra`, in an
 * `AsyncLocalStorage` set around the SDK's tool dispatch.
 */
import { globalValue } from "effect/GlobalValue"
import { AsyncLocalStorage } from "node:async_hooks"

export interface Call {
  readonly toolName: string
  readonly extra: unknown
  /**
   * The call's `ToolContext`, for calls whose `extra` is not the v1 SDK's (set by
   * `McpCredentialsV2`), so that `McpCredentials.currentToolContext()` works on every line.
   */
  readonly toolContext?: (() => unknown) | undefined
}

const storage = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext"),
  () => new AsyncLocalStorage<Call>()
)

export const run = <A>(call: Call, f: () => A): A => storage.run(call, f)

export const current = (): Call | undefined => storage.getStore()

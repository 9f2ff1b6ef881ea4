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
   * `McpCredentialsV2`), so that `McpCredentials.currentToolContext()` works on every line.
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

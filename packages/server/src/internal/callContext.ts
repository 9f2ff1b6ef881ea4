/**
 * The current tool call for plain code: its name and how to build its `ToolContext`, in an
 * `AsyncLocalStorage` (a `CallStorage`) set around the SDK's tool dispatch.
 */
import { CallStorage } from "@mcp-credentials/core"
import { globalValue } from "effect/GlobalValue"

export interface Call {
  readonly toolName: string
  /**
   * The call's `ToolContext`, built on demand by the line that made the call (`McpCredentials`,
   * `McpCredentialsV2`), so that `ToolContext.current()` works on every line without an SDK.
   */
  readonly toolContext: () => unknown
}

const storage = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext/CallStorage"),
  // Node's promise hooks only while a call runs (see CallStorage)
  () => CallStorage.make<Call>()
)

export const run = <A>(call: Call, f: () => A): A => storage.run(call, f)

export const current = (): Call | undefined => storage.get()

/** The `ToolContext` of the current call (either SDK line), or `undefined` outside one. */
export const currentToolContext = (): unknown => storage.get()?.toolContext()

/**
 * The current tool call for plain code: its name and the SDK's `extra`, in an
 * `AsyncLocalStorage` set around the SDK's tool dispatch.
 */
import { globalValue } from "effect/GlobalValue"
import { AsyncLocalStorage } from "node:async_hooks"

export interface Call {
  readonly toolName: string
  readonly extra: unknown
}

const storage = globalValue(
  Symbol.for("@mcp-credentials/server/CallContext"),
  () => new AsyncLocalStorage<Call>()
)

export const run = <A>(call: Call, f: () => A): A => storage.run(call, f)

export const current = (): Call | undefined => storage.getStore()

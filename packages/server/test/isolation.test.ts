/**
 * Concurrent calls stay apart when Effect wakes one call's fiber from another's: a fiber resumed
 * by another call (a shared `Deferred`, `Semaphore`, `Queue`, …) runs in that call's async
 * context, so what plain code reads there (`getCredentials()`, `ToolContext.current()`) must come
 * from the fiber, never from the async context. On both SDK lines, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { HeaderCredentialBackend } from "@mcp-credentials/core"
import { Deferred, Effect, Redacted, type Runtime } from "effect"
import { getCredentials, ToolContext } from "../src/index.js"
import { type AnyInstalled, type Line, lines } from "./lines.js"

let gate = Effect.runSync(Deferred.make<void>())

/** What plain code in the tool sees after the other call woke it. */
const seen = (toolName: string) =>
  Effect.gen(function*() {
    yield* Deferred.await(gate)
    let key = "none"
    try {
      const c = getCredentials()
      // whose key (the value itself would be scrubbed from the result)
      key = c.type === "static" ? `user ${Redacted.value(c.fields.apiKey!).split("-")[2]}` : "oauth"
    } catch (e) {
      key = (e as { _tag?: string })._tag ?? "threw"
    }
    return { tool: toolName, key, context: ToolContext.current()?.toolName ?? "none" }
  })

const registerTools = (creds: AnyInstalled) => {
  creds.registerTool("waits", { description: "declares nothing, waits on the gate" }, () => seen("waits"))
  creds.registerTool("waits_static", { description: "declares static, waits on the gate", credentials: "static" }, () => seen("waits_static"))
  creds.registerTool("opens", { description: "declares static, opens the gate", credentials: "static" }, () =>
    Effect.gen(function*() {
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.sleep("50 millis")
      return "opened"
    }))
}

const build = (line: Line) => (runtime: Runtime.Runtime<any>) => {
  const server = line.newServer()
  registerTools(line.install(server, { runtime }))
  return server
}

const fields = (apiKey: string) => ({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) })

describe.each(lines)("$name line: a fiber woken by another call", (line) => {
  let http: Awaited<ReturnType<Line["start"]>>
  beforeAll(async () => {
    http = await line.start(build(line), HeaderCredentialBackend.layer())
  })
  afterAll(() => http.close())

  for (const tool of ["waits", "waits_static"]) {
    it(`${tool}: plain code reads its own call's credential and context, not the waking call's`, async () => {
      gate = Effect.runSync(Deferred.make<void>())
      const a = await line.connect(http.url, fields("sk-user-A-secret"))
      const b = await line.connect(http.url, fields("sk-user-B-secret"))
      const waiting = b.callTool({ name: tool })
      await new Promise((r) => setTimeout(r, 100))
      await a.callTool({ name: "opens" })
      const result = (await waiting).structuredContent as { tool: string; key: string; context: string }
      expect(result.context).toBe(tool)
      expect(result.key).toBe(tool === "waits" ? "NoCredentialInScopeError" : "user B")
      await Promise.all([a.close(), b.close()])
    })
  }
})

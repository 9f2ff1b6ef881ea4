/**
 * Concurrent calls stay apart when Effect wakes one call's fiber from another's: a fiber resumed
 * by another call (a shared `Deferred`, `Semaphore`, `Queue`, …) runs in that call's async
 * context, so what plain code reads there (`getCredentials()`, `ToolContext.current()`) must come
 * from the fiber, never from the async context. On both SDK lines, over real HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CurrentCredential, HeaderCredentialBackend, type ResolvedCredential } from "@mcp-credentials/core"
import { Deferred, Effect, Fiber, Redacted, type Runtime } from "effect"
import { getCredentials, ToolContext } from "../src/index.js"
import { type AnyInstalled, type Line, lines } from "./lines.js"

let gate = Effect.runSync(Deferred.make<void>())
let shared: Fiber.RuntimeFiber<string> | undefined
const limiter = Effect.runSync(Effect.makeSemaphore(1))

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
  // a shared rate limit: the call holding it wakes the next, whose plain code (a promise the
  // fiber starts) then reads the call
  creds.registerTool("limited", { description: "plain code after a shared semaphore", credentials: "static" }, () =>
    limiter.withPermits(1)(Effect.gen(function*() {
      const plain = yield* Effect.promise(() =>
        Promise.resolve().then(() => {
          let key = "none"
          try {
            key = `user ${Redacted.value((getCredentials() as ResolvedCredential.StaticCredential).fields.apiKey!).split("-")[2]}`
          } catch (e) {
            key = (e as { _tag?: string })._tag ?? "threw"
          }
          return { key, caller: ToolContext.current()?.headers["x-caller"] ?? "none" }
        })
      )
      yield* Effect.sleep("150 millis")
      return plain
    })))
  // plain code the tool's fiber starts at once, read after an await
  creds.registerTool("first_stretch", { description: "plain code in the fiber's first run", credentials: "static" }, () =>
    Effect.promise(() =>
      new Promise((r) => setTimeout(r, 5)).then(() => ({
        key: `user ${Redacted.value((getCredentials() as ResolvedCredential.StaticCredential).fields.apiKey!).split("-")[2]}`,
        caller: ToolContext.current()?.headers["x-caller"] ?? "none"
      }))
    ))
  // a refresh in flight shared between calls: the first call starts it, the next joins it
  creds.registerTool("shares_refresh", { description: "starts or joins a shared fiber", credentials: "static" }, () =>
    Effect.gen(function*() {
      const first = shared === undefined
      if (first) shared = yield* Effect.forkDaemon(Effect.as(Effect.sleep("150 millis"), "refreshed"))
      yield* Fiber.join(shared!)
      const c = yield* CurrentCredential.getStatic()
      return {
        role: first ? "started" : "joined",
        key: `user ${Redacted.value(c.fields.apiKey!).split("-")[2]}`,
        plainKey: `user ${Redacted.value((getCredentials() as ResolvedCredential.StaticCredential).fields.apiKey!).split("-")[2]}`,
        context: ToolContext.current()?.toolName ?? "none",
        caller: ToolContext.current()?.headers["x-caller"] ?? "none"
      }
    }))
  // plain code that runs an Effect program of its own: the fiber has the call only when given it
  creds.registerTool("plain_runs_effect", { description: "plain code running an effect" }, async () => {
    const read = Effect.sync(() => ToolContext.current()?.toolName ?? "none")
    const given = await Effect.runPromise(Effect.provideService(read, ToolContext.ToolContext, ToolContext.current()!))
    const notGiven = await Effect.runPromise(read)
    return { given, notGiven }
  })
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

  it("plain code a tool's fiber starts in its first run reads the call (after an await too)", async () => {
    const a = await line.connect(http.url, { ...fields("sk-user-A-secret"), "x-caller": "A" })
    expect((await a.callTool({ name: "first_stretch" })).structuredContent).toEqual({ key: "user A", caller: "A" })
    await a.close()
  })

  it("fix: plain code a woken call's fiber starts reads its own call, not the call that woke it", async () => {
    const a = await line.connect(http.url, { ...fields("sk-user-A-secret"), "x-caller": "A" })
    const b = await line.connect(http.url, { ...fields("sk-user-B-secret"), "x-caller": "B" })
    const first = a.callTool({ name: "limited" })
    await new Promise((r) => setTimeout(r, 50))
    expect((await b.callTool({ name: "limited" })).structuredContent).toEqual({ key: "user B", caller: "B" })
    expect((await first).structuredContent).toEqual({ key: "user A", caller: "A" })
    await Promise.all([a.close(), b.close()])
  })

  it("fix: a call that joins a fiber another call started keeps its own credential and call (Fiber.join copied them over)", async () => {
    shared = undefined
    const a = await line.connect(http.url, { ...fields("sk-user-A-secret"), "x-caller": "A" })
    const b = await line.connect(http.url, { ...fields("sk-user-B-secret"), "x-caller": "B" })
    const first = a.callTool({ name: "shares_refresh" })
    await new Promise((r) => setTimeout(r, 50))
    const joined = (await b.callTool({ name: "shares_refresh" })).structuredContent
    expect(joined).toEqual({ role: "joined", key: "user B", plainKey: "user B", context: "shares_refresh", caller: "B" })
    expect((await first).structuredContent).toMatchObject({ role: "started", key: "user A" })
    await Promise.all([a.close(), b.close()])
  })

  it("a fiber that is no call's (a worker of the application) reads no call, though a call woke it", async () => {
    gate = Effect.runSync(Deferred.make<void>())
    // started outside every call, as an application's background worker is
    const worker = Effect.runPromise(seen("worker"))
    await new Promise((r) => setTimeout(r, 50))
    const a = await line.connect(http.url, fields("sk-user-A-secret"))
    await a.callTool({ name: "opens" })
    expect(await worker).toEqual({ tool: "worker", key: "NoCredentialInScopeError", context: "none" })
    await a.close()
  })

  it("a fiber plain tool code starts reads the call it is given (ToolContext provided)", async () => {
    const b = await line.connect(http.url, fields("sk-user-B-secret"))
    const result = (await b.callTool({ name: "plain_runs_effect" })).structuredContent
    expect(result).toEqual({ given: "plain_runs_effect", notGiven: "none" })
    await b.close()
  })
})

import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CurrentCredential, HeaderCredentialBackend } from "@mcp-credentials/core"
import { Effect, Option } from "effect"
import { getCredentials } from "../src/index.js"
import { type Line, lines } from "./lines.js"

describe.each(lines)("cancellation over Streamable HTTP, $name line", (line) => {
  const events: Array<string> = []
  let scope: CurrentCredential.CredentialScope | undefined
  let started!: () => void
  const startedP = new Promise<void>((r) => (started = r))
  let http: Awaited<ReturnType<Line["start"]>>
  let plainStarted!: () => void
  const plainStartedP = new Promise<void>((r) => (plainStarted = r))
  let plainAfterCancel: string | undefined

  beforeAll(async () => {
    http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      creds.registerTool("slow", { description: "runs until cancelled", credentials: "static" }, () =>
        Effect.gen(function*() {
          scope = Option.getOrUndefined(yield* CurrentCredential.scope)
          yield* Effect.addFinalizer(() => Effect.sync(() => events.push("finalizer ran")))
          events.push("started")
          started()
          yield* Effect.never
          return "unreachable"
        }).pipe(Effect.scoped))
      creds.registerTool("slowPlain", { description: "a plain tool that outlives its cancellation", credentials: "static" }, async () => {
        plainStarted()
        // the SDK aborts the call's signal when the client cancels it
        await new Promise((r) => setTimeout(r, 300))
        try {
          plainAfterCancel = getCredentials().type
        } catch (e) {
          plainAfterCancel = (e as { _tag?: string })._tag ?? "thrown"
        }
        return "done"
      })
      return server
    }, HeaderCredentialBackend.layer())
  })
  afterAll(() => http.close())

  it("a client cancellation interrupts the tool's fiber, runs its finalizers and releases its credential", async () => {
    const client = await line.connect(http.url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-cancel-0001"}' })
    const ac = new AbortController()
    const call = client.callTool({ name: "slow" }, { signal: ac.signal })
    await startedP
    expect(scope?.isOpen).toBe(true)
    expect(scope?.get("default")?.type).toBe("static")
    ac.abort("user gave up")
    await expect(call).rejects.toThrow()
    const deadline = Date.now() + 5_000
    while (!events.includes("finalizer ran") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(events).toEqual(["started", "finalizer ran"])
    while (scope?.isOpen && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(scope?.isOpen).toBe(false)
    expect(scope?.get("default")).toBeUndefined()
    await client.close()
  })

  it("a plain tool still running after the client cancelled finds no credential any more", async () => {
    const client = await line.connect(http.url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-cancel-0002"}' })
    const ac = new AbortController()
    const call = client.callTool({ name: "slowPlain" }, { signal: ac.signal })
    await plainStartedP
    ac.abort("user gave up")
    await expect(call).rejects.toThrow()
    const deadline = Date.now() + 5_000
    while (plainAfterCancel === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    expect(plainAfterCancel).toBe("NoCredentialInScopeError")
    await client.close()
  })
})

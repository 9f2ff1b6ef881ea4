import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { CurrentCredential, HeaderCredentialBackend } from "@mcp-credentials/core"
import { Duration, Effect, Exit, Layer, ManagedRuntime, Option, Scope } from "effect"
import { createServer } from "node:http"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { getCredentials, McpHttpServer, McpHttpServerV2 } from "../src/index.js"
import { type Line, lines, v1, v2 } from "./lines.js"

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

describe.each(lines)("a call ends with the layer that serves it, $name line", (line) => {
  it("fix: closing the layer interrupts a running tool, and waits for it, before the application's layer is released", async () => {
    const events: Array<string> = []
    let started!: () => void
    const startedP = new Promise<void>((r) => (started = r))
    const appLayer = Layer.merge(
      HeaderCredentialBackend.layer(),
      Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => events.push("application layer released"))))
    )
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      creds.registerTool("slow", { description: "runs until interrupted", credentials: "static" }, () =>
        Effect.gen(function*() {
          yield* Effect.addFinalizer(() => Effect.sleep("50 millis").pipe(Effect.andThen(() => events.push("tool finalizer ran"))))
          events.push("started")
          started()
          return yield* Effect.never
        }).pipe(Effect.scoped))
      return server
    }, appLayer)
    const client = await line.connect(http.url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-shutdown-01"}' })
    // the client gets no answer (the server's stream ends, as with the bare SDK); closing it ends the call
    const call = client.callTool({ name: "slow" }).catch(() => "ended")
    await startedP
    await http.close()
    expect(events).toEqual(["started", "tool finalizer ran", "application layer released"])
    await client.close().catch(() => undefined)
    expect(await call).toBe("ended")
  })
})

describe("v1 stateless: a client that goes away stops its call", () => {
  for (const via of ["layer", "toNodeHandler"] as const) {
    it(`fix: ${via}: the tool is interrupted when the client disconnects (as the SDK's stateless pattern does)`, async () => {
      const events: Array<string> = []
      let started!: () => void
      const startedP = new Promise<void>((r) => (started = r))
      const build = (runtime: any) => {
        const server = v1.newServer()
        const creds = v1.install(server, { runtime })
        creds.registerTool("slow", { description: "runs until interrupted", credentials: "static" }, () =>
          Effect.gen(function*() {
            yield* Effect.addFinalizer(() => Effect.sync(() => events.push("interrupted")))
            started()
            yield* Effect.sleep("5 seconds")
            events.push("completed")
            return "done"
          }).pipe(Effect.scoped))
        return server
      }
      let url: URL
      let close: () => Promise<void>
      if (via === "layer") {
        const served = await v1.start(build, HeaderCredentialBackend.layer(), { stateless: true } as any)
        url = served.url
        close = served.close
      } else {
        const runtime = ManagedRuntime.make(HeaderCredentialBackend.layer())
        const { handler, close: closeHandler } = await McpHttpServer.toNodeHandler({ server: build, runtime, stateless: true })
        const node = createServer((req, res) => void handler(req, res))
        await new Promise<void>((r) => node.listen(0, "127.0.0.1", r))
        url = new URL(`http://127.0.0.1:${(node.address() as { port: number }).port}/mcp`)
        close = async () => {
          await closeHandler()
          await new Promise((r) => node.close(r))
          await runtime.dispose()
        }
      }
      try {
        const ac = new AbortController()
        const response = fetch(url, {
          method: "POST",
          signal: ac.signal,
          headers: {
            "content-type": "application/json",
            accept: "application/json, text/event-stream",
            "mcp-protocol-version": "2025-06-18",
            "X-MCP-Cred-Fields": '{"apiKey":"sk-disconnect-1"}'
          },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {} } })
        }).catch(() => "aborted")
        await startedP
        ac.abort()
        expect(await response).toBe("aborted")
        await vi.waitFor(() => expect(events).toEqual(["interrupted"]), { timeout: 3000 })
      } finally {
        await close()
      }
    })
  }
})

describe("v1: every server the factory builds is closed", () => {
  it("fix: an initialization the transport refuses (406) and a stateless call refused for its scopes close their server", async () => {
    let built = 0
    const closed = new Set<unknown>()
    const build = (runtime: any) => {
      const server = v1.newServer()
      built++
      const close = server.close.bind(server)
      server.close = () => {
        closed.add(server)
        return close()
      }
      v1.install(server, { runtime, toolScopes: { scoped: ["admin"] } })
      server.registerTool("scoped", { description: "needs admin" }, async () => ({ content: [] }))
      return server
    }
    const stateful = await v1.start(build, HeaderCredentialBackend.layer())
    const stateless = await v1.start(build, HeaderCredentialBackend.layer(), {
      stateless: true,
      insufficientScope: () => new Response("forbidden", { status: 403 })
    } as any)
    try {
      for (let i = 0; i < 3; i++) {
        const refused = await fetch(stateful.url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "text/plain" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })
        })
        expect(refused.status).toBe(406)
        const forbidden = await fetch(stateless.url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "scoped", arguments: {} } })
        })
        expect(forbidden.status).toBe(403)
      }
      await vi.waitFor(() => expect(closed.size).toBe(6), { timeout: 2000 })
      expect(built).toBe(6)
    } finally {
      await stateful.close()
      await stateless.close()
    }
  })
})

describe("v2: the servers the SDK closes without connecting them are let go", () => {
  it("fix: a subscriptions/listen request's server is not kept until the handler closes (each was held for good)", async () => {
    let closing = false
    let closedAtShutdown = 0
    const runtime = ManagedRuntime.make(Layer.empty)
    const { handler, close } = await McpHttpServerV2.toNodeHandler({
      runtime,
      server: (rt: any) => {
        const server = v2.newServer({ capabilities: { tools: { listChanged: true } } })
        v2.install(server, { runtime: rt })
        server.registerTool("t", { description: "d" }, async () => ({ content: [{ type: "text", text: "ok" }] }))
        const closeServer = server.close.bind(server)
        server.close = () => {
          if (closing) closedAtShutdown++
          return closeServer()
        }
        return server
      }
    })
    const node = createServer((req, res) => void handler(req, res))
    await new Promise<void>((r) => node.listen(0, "127.0.0.1", r))
    const url = new URL(`http://127.0.0.1:${(node.address() as { port: number }).port}/mcp`)
    const client = new ClientV2({ name: "c", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
    await client.connect(new TransportV2(url))
    try {
      for (let i = 0; i < 5; i++) {
        const subscription = await client.listen({ toolsListChanged: true })
        await subscription.close()
      }
      await client.callTool({ name: "t" })
      await new Promise((r) => setTimeout(r, 200))
    } finally {
      closing = true
      await client.close().catch(() => undefined)
      await close()
      await new Promise((r) => node.close(r))
      await runtime.dispose()
    }
    expect(closedAtShutdown).toBe(0)
  })
})

describe("v1 stateful, JSON answers: a call in flight when its session closes", () => {
  const start = async (options: { readonly sessionIdleTimeout?: Duration.DurationInput }) => {
    const events: Array<string> = []
    const scope = Effect.runSync(Scope.make())
    const web = await Effect.runPromise(Scope.extend(
      McpHttpServer.makeWebHandler({
        enableJsonResponse: true,
        allowedHosts: "any",
        ...(options.sessionIdleTimeout !== undefined ? { sessionIdleTimeout: options.sessionIdleTimeout } : {}),
        server: (runtime: any) => {
          const server = v1.newServer()
          const creds = v1.install(server, { runtime })
          creds.registerTool("slow", { description: "1 s" }, () =>
            Effect.sleep("1 second").pipe(Effect.as("done"), Effect.onInterrupt(() => Effect.sync(() => void events.push("interrupted")))))
          return server
        }
      }) as any,
      scope
    )) as (request: Request) => Promise<Response>
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" }
    const post = (body: unknown, extra: Record<string, string> = {}) =>
      web(new Request("http://localhost/mcp", { method: "POST", headers: { ...headers, ...extra }, body: JSON.stringify(body) }))
    const init = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } } })
    const sid = init.headers.get("mcp-session-id")!
    await post({ jsonrpc: "2.0", method: "notifications/initialized" }, { "mcp-session-id": sid })
    const call = post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {} } }, { "mcp-session-id": sid })
    return { events, call, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
  }

  it("fix: the layer closing answers it with a 503 (it never got an answer) and interrupts the tool", async () => {
    const { call, close, events } = await start({})
    await new Promise((r) => setTimeout(r, 200))
    await close()
    const response = await Promise.race([call, new Promise<undefined>((r) => setTimeout(() => r(undefined), 3000))])
    expect(response?.status).toBe(503)
    expect(events).toEqual(["interrupted"])
  })

  it("fix: a call longer than the idle timeout keeps its session open and is answered (the sweep closed it mid-call)", async () => {
    const { call, close, events } = await start({ sessionIdleTimeout: Duration.millis(300) })
    try {
      const response = await call
      expect(response.status).toBe(200)
      expect(await response.text()).toContain("done")
      expect(events).toEqual([])
    } finally {
      await close()
    }
  })
})

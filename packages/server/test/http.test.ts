import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { CredentialBackend, HeaderCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Context, Effect, Layer, Logger, ManagedRuntime, Redacted, Schema } from "effect"
import { createServer, request as httpRequest, type Server } from "node:http"
import { connect as connectTcp, Socket } from "node:net"
import { getCredentials, McpCredentials, McpHttpServer } from "../src/index.js"
import { connect, startHttp, textOf } from "./helpers.js"
import { keyLengthServer, type Line, lines } from "./lines.js"
import * as Http from "../src/internal/http.js"

const build = (runtime: any) => {
  const server = new McpServer({ name: "http", version: "1" })
  McpCredentials.install(server, { runtime }).registerTool("key_length", { description: "d", credentials: "static" }, () => {
    const c = getCredentials() as ResolvedCredential.StaticCredential
    return `length ${Redacted.value(c.fields.apiKey!).length}`
  })
  return server
}

const initialize = (url: URL, headers: Record<string, string>) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } }
    })
  })

/** A raw request, so that `Host` can be forged (fetch does not allow it). */
const rawInitialize = (url: URL, headers: Record<string, string>) =>
  new Promise<number>((resolve, reject) => {
    const req = httpRequest(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }
    }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on("error", reject)
    req.end(JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
    }))
  })

const buildOn = keyLengthServer

describe.each(lines)("HTTP serving, $name line", (line) => {
  let http: Awaited<ReturnType<Line["start"]>>
  beforeAll(async () => {
    http = await line.start(buildOn(line), HeaderCredentialBackend.layer())
  })
  afterAll(() => http.close())

  it("Host and Origin are checked for loopback binds (DNS rebinding)", async () => {
    expect(await rawInitialize(http.url, {})).toBe(200)
    expect(await rawInitialize(http.url, { host: "evil.example" })).toBe(403)
    expect(await rawInitialize(http.url, { host: `evil.example:${http.url.port}` })).toBe(403)
    expect(await rawInitialize(http.url, { origin: "http://evil.example" })).toBe(403)
    expect(await rawInitialize(http.url, { host: `localhost:${http.url.port}`, origin: "http://localhost:5173" })).toBe(200)
  })

  it("allowedOrigins: Origin must match an entry exactly (scheme, host, port); no Origin passes; Host still checked", async () => {
    const strict = await line.start(buildOn(line), HeaderCredentialBackend.layer(), {
      allowedOrigins: ["https://app.example.com", "http://localhost:5173/"]
    })
    try {
      expect(await rawInitialize(strict.url, {})).toBe(200)
      expect(await rawInitialize(strict.url, { origin: "https://app.example.com" })).toBe(200)
      expect(await rawInitialize(strict.url, { origin: "http://localhost:5173" })).toBe(200)
      expect(await rawInitialize(strict.url, { origin: "http://app.example.com" })).toBe(403) // scheme
      expect(await rawInitialize(strict.url, { origin: "https://app.example.com:8443" })).toBe(403) // port
      expect(await rawInitialize(strict.url, { origin: "http://localhost:6006" })).toBe(403) // same host, other port
      expect(await rawInitialize(strict.url, { origin: "null" })).toBe(403)
      expect(await rawInitialize(strict.url, { host: "evil.example", origin: "https://app.example.com" })).toBe(403)
    } finally {
      await strict.close()
    }
  })

  it("allowedOrigins with allowedHosts \"any\": Origin still checked exactly, Host not; without allowedOrigins nothing is", async () => {
    const originsOnly = await line.start(buildOn(line), HeaderCredentialBackend.layer(), {
      allowedHosts: "any",
      allowedOrigins: ["https://app.example.com"]
    })
    const open = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedHosts: "any" })
    try {
      expect(await rawInitialize(originsOnly.url, { host: "anything.example" })).toBe(200)
      expect(await rawInitialize(originsOnly.url, { host: "anything.example", origin: "https://app.example.com" })).toBe(200)
      expect(await rawInitialize(originsOnly.url, { origin: "https://evil.example" })).toBe(403)
      expect(await rawInitialize(open.url, { host: "anything.example", origin: "https://evil.example" })).toBe(200)
    } finally {
      await originsOnly.close()
      await open.close()
    }
  })

  it("allowedOrigins: an entry that is not an origin fails when the handler is built, naming the option and entry, not the value", async () => {
    for (const bad of ["secret-looking-value.example/path", "https://secret-looking-value.example/path", "https://*.secret-looking-value.example"]) {
      const attempt = line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: ["https://ok.example", bad] })
      const error = await attempt.then(() => undefined, (e: unknown) => e)
      expect(String(error)).toMatch(/allowedOrigins: entry 1 is not an origin/)
      expect(String(error)).not.toContain("secret-looking-value")
    }
  })

  it("fix: a credential or gateway header sent twice is refused with 400 (Node joined the two values into one credential), on the router and the Node handler", async () => {
    await refusesRepeatedCredentialHeaders(http.url)
    const runtime = ManagedRuntime.make(HeaderCredentialBackend.layer())
    const node = await line.toNodeHandler(buildOn(line), await runtime.runtime())
    const server = createServer((req, res) => void node.handler(req, res))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      await refusesRepeatedCredentialHeaders(new URL(`http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`))
    } finally {
      await node.close()
      await new Promise((resolve) => server.close(resolve))
      await runtime.dispose()
    }
  })

  it("fix: with credentialHeaderPrefixes, a repeated header of a backend outside the X-MCP-Cred- family is refused too", async () => {
    const custom = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { credentialHeaderPrefixes: ["X-Jira-"] })
    try {
      const answer = await rawToolCall(custom.url, { "x-jira-access-token": ["tok-client-AAAA", "tok-gateway-BBBB"] })
      expect(answer.status).toBe(400)
      expect(answer.body).toContain("the x-jira-access-token header is sent more than once")
      expect(answer.body).not.toMatch(/AAAA|BBBB/)
      const once = await rawToolCall(custom.url, { "x-jira-access-token": "tok-once" })
      expect(once.body).not.toContain("more than once")
    } finally {
      await custom.close()
    }
  })

  it("the line's layer binds 127.0.0.1 and serves until the layer is released", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000)
    const program = Effect.gen(function*() {
      const res = yield* Effect.promise(() => initialize(new URL(`http://127.0.0.1:${port}/mcp`), {}))
      return res.status
    })
    const status = await Effect.runPromise(
      Effect.scoped(Effect.zipRight(Layer.build(line.layer({ server: buildOn(line), port }).pipe(Layer.provide(HeaderCredentialBackend.layer()))), program))
    )
    expect(status).toBe(200)
    await expect(initialize(new URL(`http://127.0.0.1:${port}/mcp`), {})).rejects.toThrow()
  })

  it("fix: a bind to another loopback address (127.0.0.2) accepts clients that use it, and still refuses other hosts", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000)
    const program = Effect.gen(function*() {
      const direct = yield* Effect.promise(() => initialize(new URL(`http://127.0.0.2:${port}/mcp`), {}))
      const rebound = yield* Effect.promise(() => rawInitialize(new URL(`http://127.0.0.2:${port}/mcp`), { host: "evil.example" }))
      return [direct.status, rebound] as const
    })
    const [direct, rebound] = await Effect.runPromise(
      Effect.scoped(Effect.zipRight(Layer.build(line.layer({ server: buildOn(line), host: "127.0.0.2", port }).pipe(Layer.provide(HeaderCredentialBackend.layer()))), program))
    )
    expect(direct).toBe(200)
    expect(rebound).toBe(403)
  })

  it("the line's layer on a port already in use fails with a ListenError naming the address and the reason", async () => {
    const other = createServer()
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve))
    const port = (other.address() as { port: number }).port
    try {
      const exit = await Effect.runPromiseExit(
        Effect.scoped(Layer.build(line.layer({ server: buildOn(line), port }).pipe(Layer.provide(HeaderCredentialBackend.layer()))))
      )
      expect(exit._tag).toBe("Failure")
      const error = exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined
      expect(error).toBeInstanceOf(McpHttpServer.ListenError)
      expect((error as McpHttpServer.ListenError).code).toBe("EADDRINUSE")
      expect((error as Error).message).toMatch(new RegExp(`^McpHttpServer(V2)?: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`))
    } finally {
      await new Promise((resolve) => other.close(resolve))
    }
  })

  it("the line's layer with a port out of range fails with a ListenError, not a defect", async () => {
    const exit = await Effect.runPromiseExit(
      Effect.scoped(Layer.build(line.layer({ server: buildOn(line), port: 70000 }).pipe(Layer.provide(HeaderCredentialBackend.layer()))))
    )
    const failure = exit._tag === "Failure" ? Cause.failureOption(exit.cause) : undefined
    const error = failure?._tag === "Some" ? failure.value : undefined
    expect(error).toBeInstanceOf(McpHttpServer.ListenError)
    expect((error as McpHttpServer.ListenError).message).toMatch(/port must be an integer from 0 to 65535/)
  })
})

describe("toNodeMiddleware: routes beside the MCP endpoint in an Express / node:http app", () => {
  class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}

  it("serves what a route matches with the runtime's services, passes the rest to next, keeps a route's own 404, reads a form a parser already read", async () => {
    const routes = HttpRouter.empty.pipe(
      HttpRouter.get("/hello", Effect.map(Greeting, (g) => HttpServerResponse.text(g))),
      HttpRouter.get("/gone", Effect.succeed(HttpServerResponse.text("route's own", { status: 404 }))),
      HttpRouter.post(
        "/form",
        Effect.map(HttpServerRequest.schemaBodyUrlParams(Schema.Struct({ name: Schema.String })), (form) => HttpServerResponse.text(`hi ${form.name}`))
      ),
      HttpRouter.post("/raw-form", Effect.map(HttpServerRequest.HttpServerRequest.pipe(Effect.flatMap((r) => r.text)), (t) => HttpServerResponse.text(t)))
    )
    const runtime = ManagedRuntime.make(Layer.succeed(Greeting, "hello from the runtime"))
    const middleware = await McpHttpServer.toNodeMiddleware(routes, runtime)
    const server = createServer((req, res) => {
      // the application's own handlers come after it, and read the body the middleware left
      void middleware(req, res, () => {
        let length = 0
        req.on("data", (chunk: Buffer) => (length += chunk.length))
        req.on("end", () => res.writeHead(200, { "content-type": "text/plain" }).end(req.method === "POST" ? `app read ${length}` : "app"))
      })
    })
    const parsed = createServer((req, res) => {
      // as express.urlencoded() leaves it: the stream read, the fields in req.body
      let raw = ""
      req.on("data", (c) => (raw += c))
      req.on("end", () => {
        // as express.urlencoded({ extended: false }) gives it: a repeated field is an array
        const fields: Record<string, string | Array<string>> = {}
        for (const [k, v] of new URLSearchParams(raw)) {
          const had = fields[k]
          fields[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v]
        }
        ;(req as any).body = fields
        void middleware(req, res)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    await new Promise<void>((resolve) => parsed.listen(0, "127.0.0.1", resolve))
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`
    const parsedBase = `http://127.0.0.1:${(parsed.address() as { port: number }).port}`
    try {
      expect(await (await fetch(`${base}/hello`)).text()).toBe("hello from the runtime")
      const other = await fetch(`${base}/elsewhere`)
      expect([other.status, await other.text()]).toEqual([200, "app"])
      const gone = await fetch(`${base}/gone`)
      expect([gone.status, await gone.text()]).toEqual([404, "route's own"])
      // a request no route matches reaches next with its whole body unread (a 200 KB MCP request)
      const big = await fetch(`${base}/mcp`, { method: "POST", body: "x".repeat(200_000), signal: AbortSignal.timeout(5000) })
      expect(await big.text()).toBe("app read 200000")
      const form = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: "name=Ada" }
      expect(await (await fetch(`${base}/form`, form)).text()).toBe("hi Ada")
      expect(await (await fetch(`${parsedBase}/form`, form)).text()).toBe("hi Ada")
      // repeated fields stay repeated when the parsed form is encoded again
      const repeated = { ...form, body: "scope=a&scope=b%2Cc&x=1" }
      expect(await (await fetch(`${parsedBase}/raw-form`, repeated)).text()).toBe("scope=a&scope=b%2Cc&x=1")
      // without next: a 404, without the middleware's own marker
      const unrouted = await fetch(`${parsedBase}/nothing`, { method: "POST", body: "x" })
      expect(unrouted.status).toBe(404)
      expect([...unrouted.headers.keys()].some((k) => k.startsWith("x-mcp-credentials"))).toBe(false)
    } finally {
      await new Promise((resolve) => server.close(resolve))
      await new Promise((resolve) => parsed.close(resolve))
      await runtime.dispose()
    }
  })
})

/** A tools/call with `headers` as raw header lines (an array: the header repeated), answered status and body. */
const rawToolCall = (url: URL, headers: Record<string, string | Array<string>>) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }
    }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => (body += chunk))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on("error", reject)
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "key_length", arguments: {} } }))
  })

/** A credential or gateway header sent twice is refused, naming the header and neither value. */
const refusesRepeatedCredentialHeaders = async (url: URL) => {
  const fields = (key: string) => JSON.stringify({ apiKey: key })
  for (
    const headers of [
      { "x-mcp-cred-access-token": ["tok-client-AAAA", "tok-gateway-BBBB"] },
      { "X-MCP-Cred-Fields": [fields("key-client-AAAA"), fields("key-gateway-BBBB")] },
      { "x-mcp-cred-jira-fields": [fields("key-client-AAAA"), fields("key-gateway-BBBB")] },
      { "x-mcp-gateway-signature": ["v1=AAAA", "v1=BBBB"] }
    ]
  ) {
    const answer = await rawToolCall(url, headers)
    expect(answer.status).toBe(400)
    const name = Object.keys(headers)[0]!.toLowerCase()
    expect(answer.body).toContain(`the ${name} header is sent more than once`)
    expect(answer.body).not.toMatch(/AAAA|BBBB/)
  }
  // once: not refused for it (stateful v1 answers a tools/call without a session with its own 400)
  const once = await rawToolCall(url, { "x-mcp-cred-fields": fields("key-once-0123") })
  expect(once.body).not.toContain("more than once")
  expect(once.status === 200 || once.body.includes("no session id")).toBe(true)
}

/** A body over 4 MB gets 413, declared (Content-Length) or streamed (chunked), before it is all read. */
const refusesLargeBodies = async (url: URL) => {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" }
  // fetch sets Content-Length itself for a string body
  const declared = await fetch(url, { method: "POST", headers, body: " ".repeat(5 * 1024 * 1024) })
  expect(declared.status).toBe(413)
  let sent = 0
  const streamed = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent > 64 * 1024 * 1024) return controller.close()
      sent += 1024 * 1024
      controller.enqueue(new Uint8Array(1024 * 1024).fill(32))
    }
  })
  const r = await fetch(url, { method: "POST", headers, body: streamed, duplex: "half" } as RequestInit)
  expect(r.status).toBe(413)
  expect(sent).toBeLessThan(64 * 1024 * 1024)
}

describe("HTTP serving (v1 sessions and stateless mode)", () => {
  let stateful: Awaited<ReturnType<typeof startHttp>>
  let stateless: Awaited<ReturnType<typeof startHttp>>
  beforeAll(async () => {
    stateful = await startHttp({ server: build }, HeaderCredentialBackend.layer())
    stateless = await startHttp({ server: build, stateless: true }, HeaderCredentialBackend.layer())
  })
  afterAll(async () => {
    await stateful.close()
    await stateless.close()
  })

  it("Host and Origin are checked for loopback binds (DNS rebinding)", async () => {
    expect(await rawInitialize(stateful.url, {})).toBe(200)
    expect(await rawInitialize(stateful.url, { host: "evil.example" })).toBe(403)
    expect(await rawInitialize(stateful.url, { host: `evil.example:${stateful.url.port}` })).toBe(403)
    expect(await rawInitialize(stateful.url, { origin: "http://evil.example" })).toBe(403)
    expect(await rawInitialize(stateful.url, { host: `localhost:${stateful.url.port}`, origin: "http://localhost:5173" })).toBe(200)
  })

  it("fix: stateful mode answers other methods with 405 and Allow, with or without a session (as the SDK does; it was 400 without one)", async () => {
    for (const method of ["PUT", "PATCH", "OPTIONS"]) {
      const res = await fetch(stateful.url, { method, headers: { "content-type": "application/json" }, ...(method === "OPTIONS" ? {} : { body: "{}" }) })
      expect(res.status, method).toBe(405)
      expect(res.headers.get("allow"), method).toBe("GET, POST, DELETE")
    }
  })

  it("fix: on the Effect router a quiet event stream sends its headers at once (the GET stream's came with the first keep-alive, 15 s later)", async () => {
    const init = await initialize(stateful.url, {})
    const id = init.headers.get("mcp-session-id")!
    await init.body?.cancel()
    const started = Date.now()
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), 5_000)
    const res = await fetch(stateful.url, {
      headers: { accept: "text/event-stream", "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" },
      signal: controller.signal
    })
    clearTimeout(timer)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("text/event-stream")
    expect(Date.now() - started).toBeLessThan(2_000)
    controller.abort()
  })

  it("stateful mode: a session id is issued; an unknown session is 404", async () => {
    const res = await initialize(stateful.url, {})
    expect(res.headers.get("mcp-session-id")).toMatch(/^[0-9a-f-]{36}$/)
    const unknown = await fetch(stateful.url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": "nope" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" })
    })
    expect(unknown.status).toBe(404)
  })

  it("stateless mode: no session, each request gets its own server", async () => {
    const res = await initialize(stateless.url, {})
    expect(res.status).toBe(200)
    expect(res.headers.get("mcp-session-id")).toBeNull()
    const get = await fetch(stateless.url, { headers: { accept: "text/event-stream" } })
    expect(get.status).toBe(405) // no standalone stream: idle clients do not poll
    expect(get.headers.get("allow")).toBe("POST")
    const client = await connect(stateless.url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-stateless-12"}' })
    expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 15")
    await client.close()
  })

  it("fix: a body over 4 MB gets 413 on the Effect router too, streamed as well as declared (a streamed one reset the connection)", async () => {
    await refusesLargeBodies(stateful.url)
    await refusesLargeBodies(stateless.url)
  })
})

describe("plain Node handler (Express / node:http)", () => {
  let http: Server
  let close: () => Promise<void>
  let runtime: ManagedRuntime.ManagedRuntime<CredentialBackend.CredentialBackend, never>
  let url: URL
  beforeAll(async () => {
    runtime = ManagedRuntime.make(HeaderCredentialBackend.layer())
    const node = await McpHttpServer.toNodeHandler({ server: build, runtime: await runtime.runtime() })
    close = node.close
    http = createServer((req, res) => {
      if (req.url?.startsWith("/mcp")) void node.handler(req, res)
      else res.writeHead(404).end()
    })
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r))
    url = new URL(`http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`)
  })
  afterAll(async () => {
    await close()
    await new Promise((r) => http.close(r))
    await runtime.dispose()
  })

  it("serves MCP with header credentials", async () => {
    const client = await connect(url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-node-handler"}' })
    expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 15")
    await client.close()
  })

  it("fix: a malformed Host header gets an answer and does not end the process (the handler never rejects)", async () => {
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(Number(url.port), "127.0.0.1", () => socket.end("GET /mcp HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"))
      let data = ""
      socket.on("data", (d) => (data += d.toString("latin1")))
      socket.on("end", () => resolve(data.split("\r\n")[0] ?? ""))
      socket.on("error", reject)
    })
    expect(status).toMatch(/^HTTP\/1\.1 [45]\d\d /)
    // still serving
    const client = await connect(url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-after-bad-host"}' })
    expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 17")
    await client.close()
  })

  it("fix: a request body over 4 MB is refused with 413, declared or streamed, before it is all read", async () => {
    await refusesLargeBodies(url)
  })

  it("fix: a standalone SSE stream whose client went away is released (the next GET is 200, not 409)", async () => {
    const init = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "X-MCP-Cred-Fields": '{"apiKey":"sk-sse-release"}' },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })
    })
    const id = init.headers.get("mcp-session-id")!
    await init.body?.cancel()
    expect(id).toBeTruthy()
    const stream = async () => {
      const controller = new AbortController()
      const res = await fetch(url, { headers: { accept: "text/event-stream", "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }, signal: controller.signal })
      return { status: res.status, close: () => controller.abort() }
    }
    const first = await stream()
    expect(first.status).toBe(200)
    first.close()
    await new Promise((r) => setTimeout(r, 200))
    const second = await stream()
    second.close()
    expect(second.status).toBe(200)
    await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" } }).then((r) => r.body?.cancel())
  })
})

/** Sends a raw HTTP/1.1 request (no client library, so no client-side keep-alive) and returns the status line. */
const rawRequest = (port: number, head: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connectTcp(port, "127.0.0.1", () => socket.write(head))
    let data = ""
    socket.on("data", (d) => {
      data += d.toString("latin1")
      if (data.includes("\r\n")) {
        socket.destroy()
        resolve(data.split("\r\n")[0] ?? "")
      }
    })
    socket.on("error", reject)
  })

/** Records `setKeepAlive` calls with the local port of the socket at the time (server side: the server's port). */
const recordKeepAlive = () => {
  const calls: Array<{ readonly port: number | undefined; readonly enable: unknown; readonly delay: unknown }> = []
  const original = Socket.prototype.setKeepAlive
  const spy = vi.spyOn(Socket.prototype, "setKeepAlive").mockImplementation(function(this: Socket, enable?: boolean, delay?: number) {
    calls.push({ port: this.localPort, enable, delay })
    return original.call(this, enable, delay)
  })
  return {
    on: (port: number) => calls.filter((c) => c.port === port).map(({ delay, enable }) => ({ enable, delay })),
    restore: () => spy.mockRestore()
  }
}

describe("TCP keep-alive on connections that may carry a long event stream", () => {
  it("toNodeHandler: a GET's connection gets keep-alive probes, a POST's is left as the application's server set it", async () => {
    const runtime = ManagedRuntime.make(HeaderCredentialBackend.layer())
    const node = await McpHttpServer.toNodeHandler({ server: build, runtime: await runtime.runtime() })
    const http = createServer((req, res) => void node.handler(req, res))
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r))
    const port = (http.address() as { port: number }).port
    const keepAlive = recordKeepAlive()
    try {
      const post = await rawRequest(port, `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`)
      expect(post).toMatch(/^HTTP\/1\.1 \d\d\d /)
      expect(keepAlive.on(port)).toEqual([])
      const get = await rawRequest(port, `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`)
      expect(get).toMatch(/^HTTP\/1\.1 \d\d\d /)
      expect(keepAlive.on(port)).toEqual([{ enable: true, delay: 60_000 }])
    } finally {
      keepAlive.restore()
      await node.close()
      await new Promise((r) => http.close(r))
      await runtime.dispose()
    }
  })

  it("McpHttpServer.layer: every connection of its own server gets keep-alive probes", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000)
    const keepAlive = recordKeepAlive()
    try {
      const status = await Effect.runPromise(
        Effect.scoped(Effect.zipRight(
          Layer.build(McpHttpServer.layer<CredentialBackend.CredentialBackend>({ server: build, port }).pipe(Layer.provide(HeaderCredentialBackend.layer()))),
          Effect.promise(() => rawRequest(port, `DELETE /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`))
        ))
      )
      expect(status).toMatch(/^HTTP\/1\.1 \d\d\d /)
      expect(keepAlive.on(port)).toEqual([{ enable: true, delay: 60_000 }])
    } finally {
      keepAlive.restore()
    }
  })
})

describe("McpHttpServer.layer", () => {
  it("binds 127.0.0.1 by default and serves until the layer is released", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000)
    const program = Effect.gen(function*() {
      const res = yield* Effect.promise(() => initialize(new URL(`http://127.0.0.1:${port}/mcp`), {}))
      return res.status
    })
    const status = await Effect.runPromise(
      Effect.scoped(Effect.zipRight(Layer.build(McpHttpServer.layer<CredentialBackend.CredentialBackend>({ server: build, port }).pipe(Layer.provide(HeaderCredentialBackend.layer()))), program))
    )
    expect(status).toBe(200)
    await expect(initialize(new URL(`http://127.0.0.1:${port}/mcp`), {})).rejects.toThrow()
  })
})

describe.each(lines)("$name line: layer on a non-loopback bind", (line) => {
  const buildLayer = (allowedHosts?: ReadonlyArray<string> | "any", allowedOrigins?: ReadonlyArray<string>) => {
    const logged: Array<string> = []
    const logger = Logger.replace(Logger.defaultLogger, Logger.make((o) => logged.push(Logger.logfmtLogger.log(o))))
    const layer = line.layer({
      server: buildOn(line),
      host: "0.0.0.0",
      port: 0,
      ...(allowedHosts !== undefined ? { allowedHosts } : {}),
      ...(allowedOrigins !== undefined ? { allowedOrigins } : {})
    }).pipe(Layer.provide(HeaderCredentialBackend.layer()))
    return Effect.runPromise(Effect.scoped(Layer.build(layer)).pipe(Effect.provide(logger))).then(() => logged.join("\n"))
  }

  it("fix: without allowedHosts it warns that Host and Origin are not checked; with them (or \"any\") it does not", async () => {
    const warned = await buildLayer()
    expect(warned).toMatch(/bound to 0\.0\.0\.0 without allowedHosts, so Host and Origin are not checked/)
    expect(warned).toMatch(/level=WARN/)
    expect(await buildLayer(["mcp.example.com"])).not.toMatch(/allowedHosts/)
    expect(await buildLayer("any")).not.toMatch(/allowedHosts/)
    // with allowedOrigins, Origin is checked: the warning says only Host is not
    expect(await buildLayer(undefined, ["https://app.example.com"])).toMatch(/without allowedHosts, so Host is not checked \(no DNS-rebinding/)
  })
})

describe("McpHttpServer sessions (stateful): bound to their caller, closed when idle, capped", () => {
  const initBody = JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
  })
  const post = (token: string | undefined, body: string, sessionId?: string) =>
    new Request("http://localhost/mcp", {
      method: "POST",
      headers: {
        host: "localhost",
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}),
        ...(sessionId !== undefined ? { "mcp-session-id": sessionId, "mcp-protocol-version": "2025-06-18" } : {})
      },
      body
    })
  const list = JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" })
  // a stand-in authenticator: the bearer token is the user's name
  const authenticate = (request: Request) =>
    Effect.sync(() => {
      const token = request.headers.get("authorization")?.slice(7)
      return token === undefined ? undefined : { token, clientId: "test-client", scopes: [], extra: { sub: token } }
    })
  const withHandler = <A>(
    options: Partial<McpHttpServer.Options<CredentialBackend.CredentialBackend>>,
    f: (handler: McpHttpServer.WebHandler) => Promise<A>
  ) =>
    Effect.runPromise(Effect.scoped(
      Effect.flatMap(
        McpHttpServer.makeWebHandler({ server: build, enableJsonResponse: true, authenticate, ...options }),
        (handler) => Effect.promise(() => f(handler))
      ).pipe(Effect.provide(HeaderCredentialBackend.layer()))
    ))

  it("fix: another caller presenting a session's id gets 404; the owner keeps using it", async () => {
    await withHandler({}, async (handler) => {
      const init = await handler(post("alice", initBody))
      const id = init.headers.get("mcp-session-id")!
      expect(init.status).toBe(200)
      expect((await handler(post("bob", list, id))).status).toBe(404)
      expect((await handler(post(undefined, list, id))).status).toBe(404)
      expect((await handler(post("alice", list, id))).status).toBe(200)
    })
  })

  it("fix: a session idle for sessionIdleTimeout is closed; maxSessions caps new sessions with 503", async () => {
    await withHandler({ sessionIdleTimeout: "300 millis", maxSessions: 1 }, async (handler) => {
      const id = (await handler(post("alice", initBody))).headers.get("mcp-session-id")!
      expect((await handler(post("bob", initBody))).status).toBe(503)
      await new Promise((r) => setTimeout(r, 800))
      expect((await handler(post("alice", list, id))).status).toBe(404)
      // the slot is free again
      expect((await handler(post("bob", initBody))).status).toBe(200)
    })
  })

  it("fix: a session whose client listens on its GET stream is not idle; once the stream ends it is", async () => {
    await withHandler({ sessionIdleTimeout: "300 millis" }, async (handler) => {
      const id = (await handler(post("alice", initBody))).headers.get("mcp-session-id")!
      const initialized = JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })
      expect((await handler(post("alice", initialized, id))).status).toBe(202)
      const stream = await handler(
        new Request("http://localhost/mcp", {
          method: "GET",
          headers: {
            host: "localhost",
            accept: "text/event-stream",
            authorization: "Bearer alice",
            "mcp-session-id": id,
            "mcp-protocol-version": "2025-06-18"
          }
        })
      )
      expect(stream.status).toBe(200)
      expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/)
      // far past the idle timeout, with no request but the open stream
      await new Promise((r) => setTimeout(r, 1_000))
      expect((await handler(post("alice", list, id))).status).toBe(200)
      // the client goes away: the stream ends, and the session idles out
      await stream.body!.cancel()
      await new Promise((r) => setTimeout(r, 1_000))
      expect((await handler(post("alice", list, id))).status).toBe(404)
    })
  })

  it("fix: tokens without a subject (one client id for many users) each own their session: another one gets 404 and cannot DELETE it", async () => {
    // the tokens carry no `sub`: the session is bound to the token itself
    const noSubject = (request: Request) =>
      Effect.sync(() => {
        const token = request.headers.get("authorization")?.slice(7)
        return token === undefined ? undefined : { token, clientId: "static", scopes: [], extra: {} }
      })
    await withHandler({ authenticate: noSubject }, async (handler) => {
      const id = (await handler(post("token-alice", initBody))).headers.get("mcp-session-id")!
      expect((await handler(post("token-bob", list, id))).status).toBe(404)
      const del = new Request("http://localhost/mcp", {
        method: "DELETE",
        headers: { host: "localhost", authorization: "Bearer token-bob", "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" }
      })
      expect((await handler(del)).status).toBe(404)
      expect((await handler(post("token-alice", list, id))).status).toBe(200)
    })
  })

  it("fix: maxSessions holds for initializations that arrive at once", async () => {
    await withHandler({ maxSessions: 2 }, async (handler) => {
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => handler(post(`user-${i}`, initBody))))
      expect(answers.filter((r) => r.status === 200).length).toBe(2)
      expect(answers.filter((r) => r.status === 503).length).toBe(10)
    })
  })
})

describe("a client that goes away before its response is ready", () => {
  it("fix: over HTTP, a GET stream abandoned before it started leaves the session free to idle out (was open for good: 409 on every GET)", async () => {
    const port = 30000 + Math.floor(Math.random() * 20000)
    const base = `http://127.0.0.1:${port}/mcp`
    const headers = (id?: string) => ({
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(id !== undefined ? { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" } : {})
    })
    const program = Effect.promise(async () => {
      const init = await fetch(base, {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } })
      })
      const id = init.headers.get("mcp-session-id")!
      await init.body?.cancel()
      await fetch(base, { method: "POST", headers: headers(id), body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }) })
      // the GET is answered after 300 ms (a slow authenticate); the client gives up at 50 ms
      const abort = new AbortController()
      setTimeout(() => abort.abort(), 50)
      await fetch(base, { method: "GET", headers: { ...headers(id), accept: "text/event-stream" }, signal: abort.signal }).catch(() => undefined)
      await new Promise((r) => setTimeout(r, 1_500))
      const after = await fetch(base, { method: "POST", headers: headers(id), body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }) })
      await after.body?.cancel()
      return after.status
    })
    const slowGet = (request: Request) => (request.method === "GET" ? Effect.as(Effect.sleep("300 millis"), undefined) : Effect.succeed(undefined))
    const status = await Effect.runPromise(Effect.scoped(Effect.zipRight(
      Layer.build(McpHttpServer.layer({ server: build, port, authenticate: slowGet, sessionIdleTimeout: "300 millis" }).pipe(Layer.provide(HeaderCredentialBackend.layer()))),
      program
    )))
    expect(status).toBe(404)
  })

  it("fix: the response's body is cancelled (an SSE stream left open kept its session from idling out)", async () => {
    // the Node writer: the connection closed while the request was handled
    let cancelled = false
    const body = new ReadableStream({ cancel: () => void (cancelled = true) })
    const closed = { destroyed: true, socket: null } as unknown as import("node:http").ServerResponse
    Http.writeWebResponse(new Response(body, { headers: { "content-type": "text/event-stream" } }), closed)
    await new Promise((r) => setTimeout(r, 10))
    expect(cancelled).toBe(true)
  })
})

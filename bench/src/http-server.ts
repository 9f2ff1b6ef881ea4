/**
 * The server side of benchmark 2: one Streamable HTTP endpoint on 127.0.0.1 per child process
 * (`node http-server.js <endpoint>`), so that the clients (in the parent) do not share its thread
 * and no endpoint shares a process (heap, JIT state, process-wide hooks such as the one
 * `AsyncLocalStorage` installs) with another. All are stateless with JSON responses and a new
 * `McpServer` per request, serving one tool that reads an API key.
 *
 * - `raw`: node:http + the SDK's own `StreamableHTTPServerTransport` (the SDK's stateless example)
 * - `platform`: `McpHttpServer` (Effect platform router, web-standard transport), no install;
 *   the tool parses `X-MCP-Cred-Fields` itself
 * - `install`: the same plumbing + `McpCredentials.install` with `HeaderCredentialBackend`; the
 *   tool declares `credentials: "static"` and reads it with `getCredentials()`
 *
 * - `node`, `nodeInstall`: the same two servers behind `McpHttpServer.toNodeHandler` on node:http
 *   (the package's plain-Node handler), to separate the cost of the Effect HTTP router from the
 *   cost of the integration
 * - `nodeAls`: `node` in a process where an `AsyncLocalStorage` was entered once, to isolate the
 *   process-wide cost of the promise hooks that this installs on Node < 24
 * - `nodeCopy` (run only when asked for): `node` again in another process, for the spread between
 *   two processes running the same code
 * - `nodeInstallOnly`, `nodeInstallNone` (attribution, run only when asked for): `node` with
 *   `McpCredentials.install` and the bare tool (registered on the server, parsing a header value
 *   of the same shape, since the integration hides `X-MCP-Cred-*` from tools), then the same
 *   tool registered through `creds.registerTool` without credentials
 *
 * - `v2platform`, `v2install`: the v2 SDK (`@modelcontextprotocol/server`, 2026-07-28) on
 *   `McpHttpServerV2.serve` (Effect platform router + the SDK's `createMcpHandler`, a server per
 *   request), bare and with `McpCredentialsV2.install` + `HeaderCredentialBackend`
 * - `v2node`, `v2nodeInstall`: the same two behind `McpHttpServerV2.toNodeHandler` on node:http
 * - `v2nodeAls` (attribution, run only when asked for): `v2node` in a process where an
 *   `AsyncLocalStorage` was entered once (the promise hooks on for good), as `nodeAls` for v1;
 *   `v2nodeInstallAls`: `v2nodeInstall` in such a process (the hooks are then never switched off
 *   between calls)
 *
 * IPC: answers `{ cmd: "stats" }` with CPU usage and the number of requests served (servers
 * built); `{ cmd: "gc" }` runs a full GC (with `--expose-gc`); `{ cmd: "alloc-start" }` and
 * `{ cmd: "alloc-stop" }` measure the bytes allocated in between (`BENCH_HTTP_ALLOC=1`); exits on
 * `{ cmd: "exit" }` or when the parent goes away.
 */
import { HeaderCredentialBackend } from "@mcp-credentials/core"
import { getCredentials, McpCredentials, McpCredentialsV2, McpHttpServer, McpHttpServerV2 } from "@mcp-credentials/server"
import { McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import { AsyncLocalStorage } from "node:async_hooks"
import { createServer } from "node:http"
import { writeFileSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { sampleAllocation } from "./stats.js"

const counts = {
  raw: 0,
  platform: 0,
  install: 0,
  node: 0,
  nodeInstall: 0,
  nodeAls: 0,
  nodeInstallOnly: 0,
  nodeInstallNone: 0,
  nodeCopy: 0,
  v2nodeAls: 0,
  v2nodeInstallAls: 0,
  v2platform: 0,
  v2install: 0,
  v2node: 0,
  v2nodeInstall: 0
}

const result = (key: string | undefined): CallToolResult => ({
  content: [{ type: "text", text: `key-len:${key?.length ?? 0}` }]
})

const keyFromHeader = (headers: Record<string, string | Array<string> | undefined> | undefined) => {
  const raw = headers?.["x-mcp-cred-fields"]
  return typeof raw === "string" ? (JSON.parse(raw) as { apiKey?: string }).apiKey : undefined
}

const attributionKey = JSON.stringify({ apiKey: "sk-attribution-0123456789abcdef" })

const bareServer = () => {
  const server = new McpServer({ name: "bench", version: "1.0.0" })
  server.registerTool("t", { description: "bench tool" }, async (extra) => result(keyFromHeader(extra.requestInfo?.headers)))
  return server
}

const startRaw = async (): Promise<{ port: number; close: () => Promise<void> }> => {
  const http = createServer(async (req, res) => {
    counts.raw++
    const server = bareServer()
    const transport = new StreamableHTTPServerTransport({ enableJsonResponse: true }) // no sessionIdGenerator: stateless
    res.on("close", () => {
      void transport.close()
      void server.close()
    })
    try {
      await server.connect(transport)
      await transport.handleRequest(req, res)
    } catch {
      if (!res.headersSent) res.writeHead(500).end()
    }
  })
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  return {
    port: (http.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => http.close(() => resolve()))
  }
}

const startPlatform = async <R>(
  options: McpHttpServer.Options<R>,
  appLayer: Layer.Layer<R, never, never>
): Promise<{ port: number; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const live = McpHttpServer.serve({ allowedHosts: McpHttpServer.localhostNames, ...options }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(appLayer)
  )
  const ctx = await Effect.runPromise(Layer.buildWithScope(live, scope))
  const address = (await Effect.runPromise(Effect.provide(HttpServer.HttpServer, ctx))).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { port: address.port, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const installedServer = (runtime: Runtime.Runtime<any>) => {
  const server = new McpServer({ name: "bench", version: "1.0.0" })
  const creds = McpCredentials.install(server, { runtime })
  creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
    const c = getCredentials()
    return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
  })
  return server
}

const startNode = async <R>(
  server: (runtime: Runtime.Runtime<R>) => McpServer,
  runtime: Runtime.Runtime<R>
): Promise<{ port: number; close: () => Promise<void> }> => {
  const node = await McpHttpServer.toNodeHandler({ stateless: true, allowedHosts: McpHttpServer.localhostNames, server, runtime })
  const http = createServer((req, res) => void node.handler(req, res))
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  return {
    port: (http.address() as AddressInfo).port,
    close: async () => {
      await node.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
  }
}

// -- v2 -------------------------------------------------------------------------------------

const bareServerV2 = () => {
  const server = new McpServerV2({ name: "bench", version: "1.0.0" })
  server.registerTool("t", { description: "bench tool" }, async (ctx) => {
    const raw = ctx.http?.req?.headers.get("x-mcp-cred-fields")
    return result(typeof raw === "string" ? (JSON.parse(raw) as { apiKey?: string }).apiKey : undefined)
  })
  return server
}

const installedServerV2 = (runtime: Runtime.Runtime<any>) => {
  const server = new McpServerV2({ name: "bench", version: "1.0.0" })
  const creds = McpCredentialsV2.install(server, { runtime })
  creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
    const c = McpCredentialsV2.getCredentials()
    return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
  })
  return server
}

const startPlatformV2 = async <R>(
  options: McpHttpServerV2.Options<R>,
  appLayer: Layer.Layer<R, never, never>
): Promise<{ port: number; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const live = McpHttpServerV2.serve({ allowedHosts: McpHttpServerV2.localhostNames, ...options }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(appLayer)
  )
  const ctx = await Effect.runPromise(Layer.buildWithScope(live, scope))
  const address = (await Effect.runPromise(Effect.provide(HttpServer.HttpServer, ctx))).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return { port: address.port, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const startNodeV2 = async <R>(
  server: (runtime: Runtime.Runtime<R>) => McpServerV2,
  runtime: Runtime.Runtime<R>
): Promise<{ port: number; close: () => Promise<void> }> => {
  const node = await McpHttpServerV2.toNodeHandler({ allowedHosts: McpHttpServerV2.localhostNames, server, runtime })
  const http = createServer((req, res) => void node.handler(req, res))
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve))
  return {
    port: (http.address() as AddressInfo).port,
    close: async () => {
      await node.close()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
  }
}

type Endpoint = keyof typeof counts

/**
 * Enters an `AsyncLocalStorage` once (as `getCredentials()` support does): on Node < 24 that
 * installs promise hooks process-wide, for good.
 */
const enterAsyncLocalStorageOnce = () => new AsyncLocalStorage<number>().run(0, () => undefined)

const headerRuntime = () => ManagedRuntime.make(HeaderCredentialBackend.layer()).runtime()

const start = async (endpoint: Endpoint): Promise<{ port: number; close: () => Promise<void> }> => {
  // every server the endpoint builds is counted (one per request)
  const counted = <Args extends Array<any>, A>(build: (...args: Args) => A) => (...args: Args): A => {
    counts[endpoint]++
    return build(...args)
  }
  switch (endpoint) {
    case "raw":
      return startRaw()
    case "platform":
      return startPlatform({ stateless: true, server: counted(bareServer) }, Layer.empty)
    case "install":
      return startPlatform({ stateless: true, server: counted(installedServer) }, HeaderCredentialBackend.layer())
    case "nodeAls":
      enterAsyncLocalStorageOnce()
      return startNode(counted(bareServer), Runtime.defaultRuntime)
    case "node":
    case "nodeCopy": // B0 again in another process: how far two processes running the same code differ
      return startNode(counted(bareServer), Runtime.defaultRuntime)
    case "nodeInstall":
      return startNode(counted(installedServer), await headerRuntime())
    case "nodeInstallOnly":
    case "nodeInstallNone":
      return startNode(
        counted((runtime: Runtime.Runtime<any>) => {
          const server = new McpServer({ name: "bench", version: "1.0.0" })
          const creds = McpCredentials.install(server, { runtime })
          // the integration hides X-MCP-Cred-* from tools: a fixed key of the same shape instead
          const tool = async () => result(keyFromHeader({ "x-mcp-cred-fields": attributionKey }))
          if (endpoint === "nodeInstallOnly") server.registerTool("t", { description: "bench tool" }, tool)
          else creds.registerTool("t", { description: "bench tool" }, tool)
          return server
        }),
        await headerRuntime()
      )
    case "v2platform":
      return startPlatformV2({ server: counted(bareServerV2) }, Layer.empty)
    case "v2install":
      return startPlatformV2({ server: counted(installedServerV2) }, HeaderCredentialBackend.layer())
    case "v2nodeAls":
      enterAsyncLocalStorageOnce()
      return startNodeV2(counted(bareServerV2), Runtime.defaultRuntime)
    case "v2node":
      return startNodeV2(counted(bareServerV2), Runtime.defaultRuntime)
    case "v2nodeInstallAls":
      enterAsyncLocalStorageOnce()
      return startNodeV2(counted(installedServerV2), await headerRuntime())
    case "v2nodeInstall":
      return startNodeV2(counted(installedServerV2), await headerRuntime())
  }
}

/**
 * Bytes allocated between `alloc-start` and `alloc-stop` (IPC; `sampleAllocation`).
 * `BENCH_HTTP_ALLOC_OUT=dir`: the raw profile per endpoint too (`<endpoint>.heapprofile`).
 */
let sampling: Awaited<ReturnType<typeof sampleAllocation>> | undefined
const stopSampling = async (): Promise<number> => {
  const { bytes, profile } = await sampling!.stop()
  const out = process.env.BENCH_HTTP_ALLOC_OUT
  if (out !== undefined && out !== "") writeFileSync(`${out}/${process.argv[2]}.heapprofile`, JSON.stringify(profile))
  return bytes
}
let allocStart = 0

const main = async () => {
  const endpoint = process.argv[2] as Endpoint
  if (!(endpoint in counts)) throw new Error(`unknown endpoint ${endpoint}`)
  const server = await start(endpoint)
  const shutdown = async () => {
    await server.close().catch(() => undefined)
    process.exit(0)
  }
  process.on("message", (m: { cmd?: string }) => {
    if (m?.cmd === "gc") {
      ;(globalThis as { gc?: () => void }).gc?.()
      process.send!({ type: "gc-done" })
    }
    if (m?.cmd === "stats") process.send!({ type: "stats", cpu: process.cpuUsage(), requests: counts[endpoint] })
    if (m?.cmd === "alloc-start") {
      allocStart = counts[endpoint]
      void sampleAllocation().then((started) => {
        sampling = started
        process.send!({ type: "alloc-started" })
      })
    }
    if (m?.cmd === "alloc-stop") {
      void stopSampling().then((bytes) => process.send!({ type: "alloc", bytes, requests: counts[endpoint] - allocStart }))
    }
    if (m?.cmd === "exit") void shutdown()
  })
  process.on("disconnect", () => void shutdown())
  process.send!({ type: "ready", port: server.port })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

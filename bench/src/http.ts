/**
 * Benchmark 2: Streamable HTTP throughput. N real MCP clients (`StreamableHTTPClientTransport`)
 * in this process call one tool on endpoints served by a child process (see `http-server.ts`),
 * a fixed number of calls per round, bounded in time. Rounds alternate between the endpoints.
 */
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import { type ChildProcess, fork } from "node:child_process"
import { randomBytes } from "node:crypto"
import { fileURLToPath } from "node:url"
import { now, roundOrder, sleep, summarize, type Summary } from "./stats.js"

export type Endpoint =
  | "raw"
  | "platform"
  | "install"
  | "node"
  | "nodeInstall"
  | "nodeAls"
  | "nodeInstallOnly"
  | "nodeInstallNone"
  | "nodeCopy"
  | "v2nodeAls"
  | "v2nodeInstallAls"
  | "v2platform"
  | "v2install"
  | "v2node"
  | "v2nodeInstall"

/** The endpoints served by the v2 SDK (measured with v2 clients pinned to 2026-07-28). */
export const isV2 = (e: Endpoint) => e.startsWith("v2")

export const labels: Record<Endpoint, string> = {
  platform: "A0 bare SDK on McpHttpServer.layer (baseline A)",
  install: "A1 install + HeaderCredentialBackend on McpHttpServer.layer",
  node: "B0 bare SDK on McpHttpServer.toNodeHandler (baseline B)",
  nodeInstall: "B1 install + HeaderCredentialBackend on toNodeHandler",
  nodeAls: "B2 = B0 in a process that entered an AsyncLocalStorage once",
  nodeInstallOnly: "B3 = B0 + McpCredentials.install (the tool stays on the server)",
  nodeInstallNone: "B4 = B3 with the tool registered through creds.registerTool, no credentials",
  nodeCopy: "B0' = B0 again, in another process (spread between processes)",
  raw: "C  bare SDK, node:http + SDK StreamableHTTPServerTransport",
  v2platform: "D0 v2 bare SDK on McpHttpServerV2.layer (baseline D)",
  v2install: "D1 v2 install + HeaderCredentialBackend on McpHttpServerV2.layer",
  v2node: "E0 v2 bare SDK on McpHttpServerV2.toNodeHandler (baseline E)",
  v2nodeInstall: "E1 v2 install + HeaderCredentialBackend on McpHttpServerV2.toNodeHandler",
  v2nodeAls: "E2 = E0 in a process that entered an AsyncLocalStorage once",
  v2nodeInstallAls: "E3 = E1 in a process that entered an AsyncLocalStorage once (hooks never off)"
}

/** The baseline each endpoint is compared with. */
export const baselineOf: Record<Endpoint, Endpoint> = {
  platform: "platform",
  install: "platform",
  node: "node",
  nodeInstall: "node",
  nodeAls: "node",
  nodeInstallOnly: "node",
  nodeInstallNone: "node",
  nodeCopy: "node",
  raw: "raw",
  v2platform: "v2platform",
  v2install: "v2platform",
  v2node: "v2node",
  v2nodeInstall: "v2node",
  v2nodeAls: "v2node",
  v2nodeInstallAls: "v2node"
}

export interface Options {
  readonly clients: number
  readonly callsPerRound: number
  readonly roundMs: number
  readonly rounds: number
  readonly warmup: number
  /** Stop starting rounds after this much time. */
  readonly budgetMs: number
  /** Only these endpoints (their baselines are added); default: all. */
  readonly endpoints?: ReadonlyArray<Endpoint> | undefined
}

/** Every endpoint, in the order of the table; the attribution ones (B3, B4) run only when asked for. */
export const allEndpoints: ReadonlyArray<Endpoint> = [
  "platform",
  "install",
  "node",
  "nodeInstall",
  "nodeAls",
  "nodeInstallOnly",
  "nodeInstallNone",
  "nodeCopy",
  "raw",
  "v2platform",
  "v2install",
  "v2node",
  "v2nodeInstall",
  "v2nodeAls",
  "v2nodeInstallAls"
]
const attributionOnly: ReadonlyArray<Endpoint> = ["nodeInstallOnly", "nodeInstallNone", "nodeCopy", "v2nodeAls", "v2nodeInstallAls"]

export interface EndpointResult {
  readonly endpoint: Endpoint
  readonly label: string
  readonly callsPerSec: Summary
  readonly latency: Summary // ns per call, client side
  readonly serverCpuPerCall: Summary // ns of server CPU (user + system) per call
  readonly httpRequestsPerCall: number
  readonly errors: number
  readonly rounds: number
  /** Median of per-round ratios of calls/s against the endpoint's baseline (`baselineOf`). */
  readonly roundRatio: number
  /** The per-round ratios of calls/s against the baseline, in round order. */
  readonly roundRatios: ReadonlyArray<number>
  /** Median of per-round ratios of server CPU per call against the baseline. */
  readonly cpuRoundRatio: number
  readonly perRound: ReadonlyArray<{ readonly callsPerSec: number; readonly serverCpuUsPerCall: number; readonly calls: number }>
  /** `BENCH_HTTP_ALLOC=1`: bytes the server allocated per call (sampling heap profiler, garbage included). */
  readonly serverBytesPerCall?: number
}

interface Stats {
  readonly cpu: NodeJS.CpuUsage
  readonly requests: number
}

const request = <A>(child: ChildProcess, cmd: string, type: string): Promise<A> =>
  new Promise((resolve, reject) => {
    const onMessage = (m: any) => {
      if (m?.type === type) {
        child.off("message", onMessage)
        child.off("exit", onExit)
        resolve(m as A)
      }
    }
    const onExit = (code: number | null) => reject(new Error(`bench server exited (${code})`))
    child.on("message", onMessage)
    child.on("exit", onExit)
    if (cmd !== "") child.send({ cmd })
  })

/**
 * A real client. `reconnect: false` stops it from re-opening its standalone GET stream when the
 * server closes it (see `idleRequests`), so that a round measures tool calls only.
 */
/** What a round needs of a client, on either line. */
interface AnyClient {
  readonly callTool: (params: { name: string }) => Promise<unknown>
  readonly close: () => Promise<void>
}

const connect = async (port: number, apiKey: string, reconnect: boolean, v2 = false): Promise<AnyClient> => {
  const url = new URL(`http://127.0.0.1:${port}/mcp`)
  if (v2) {
    // 2026-07-28 is stateless: no standalone GET stream to reconnect
    const client = new ClientV2({ name: "bench-client", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
    await client.connect(new TransportV2(url, { requestInit: { headers: { "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) } } }))
    return client
  }
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) } },
    ...(reconnect ? {} : {
      reconnectionOptions: { maxRetries: 0, initialReconnectionDelay: 1000, maxReconnectionDelay: 30_000, reconnectionDelayGrowFactor: 1.5 }
    })
  })
  const client = new Client({ name: "bench-client", version: "1.0.0" })
  await client.connect(transport)
  return client
}

export interface HttpReport {
  readonly results: ReadonlyArray<EndpointResult>
  /** Requests a server received per client per second from idle clients with default options. */
  readonly idleRequestsPerClientPerSec: Record<Endpoint, number>
}

const spawnServer = async (endpoint: Endpoint) => {
  const child = fork(fileURLToPath(new URL("./http-server.js", import.meta.url)), [endpoint], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // BENCH_HTTP_SERVER_ARGS: more flags for the server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`
    execArgv: ["--expose-gc", ...(process.env.BENCH_HTTP_SERVER_ARGS?.split(" ").filter((a) => a !== "") ?? [])]
  })
  const ready = await request<{ port: number }>(child, "", "ready")
  return { child, port: ready.port }
}

const stopServer = async (child: ChildProcess) => {
  if (child.connected) child.send({ cmd: "exit" })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  await Promise.race([exited, sleep(3000)])
  if (child.exitCode === null && child.signalCode === null) child.kill()
}

/**
 * `BENCH_HTTP_GC=1`: a full GC in each server before each of its rounds (what the harness did up
 * to stop 12). A forced full GC throws away the optimized code of the process, so every round
 * then starts by recompiling its hot functions (on compiler threads that `process.cpuUsage`
 * counts): that cost scales with how much code a request runs, not with what it does.
 */
const forcedGc = process.env.BENCH_HTTP_GC === "1"

export const run = async (options: Options): Promise<HttpReport> => {
  const started = Date.now()
  const wanted = new Set(options.endpoints ?? allEndpoints.filter((e) => !attributionOnly.includes(e)))
  const endpoints = allEndpoints.filter((e) => wanted.has(e) || [...wanted].some((w) => baselineOf[w] === e))
  const servers = new Map<Endpoint, { child: ChildProcess; port: number }>()
  const clients = new Map<Endpoint, Array<AnyClient>>()
  try {
    for (const e of endpoints) servers.set(e, await spawnServer(e))
    // idle behaviour of clients with default options: does the server make them reconnect?
    const idleRequestsPerClientPerSec = {} as Record<Endpoint, number>
    {
      const idleClients = 4
      const idle = await Promise.all(endpoints.flatMap((e) =>
        Array.from({ length: idleClients }, () => connect(servers.get(e)!.port, "sk-idle-0000", true, isV2(e)))
      ))
      await sleep(300)
      const before = await Promise.all(endpoints.map((e) => request<Stats>(servers.get(e)!.child, "stats", "stats")))
      const idleMs = 3000
      await sleep(idleMs)
      const after = await Promise.all(endpoints.map((e) => request<Stats>(servers.get(e)!.child, "stats", "stats")))
      endpoints.forEach((e, i) => {
        idleRequestsPerClientPerSec[e] = (after[i]!.requests - before[i]!.requests) / idleClients / (idleMs / 1000)
      })
      await Promise.allSettled(idle.map((c) => c.close()))
    }
    for (const e of endpoints) {
      const list = await Promise.all(
        Array.from({ length: options.clients }, (_, i) => connect(servers.get(e)!.port, `sk-http-${i}-${randomBytes(12).toString("hex")}`, false, isV2(e)))
      )
      for (const c of list) {
        const r = (await c.callTool({ name: "t" })) as CallToolResult
        const text = (r.content[0] as { text?: string } | undefined)?.text ?? ""
        if (r.isError || !text.startsWith("key-len:") || text === "key-len:0") {
          throw new Error(`endpoint ${e}: unexpected result ${JSON.stringify(r)}`)
        }
      }
      clients.set(e, list)
    }
    // let the clients' background GET streams settle before measuring
    await sleep(200)

    const perRound = new Map<Endpoint, Array<{ cps: number; cpu: number; reqs: number; calls: number }>>(endpoints.map((e) => [e, []]))
    const latencies = new Map<Endpoint, Array<number>>(endpoints.map((e) => [e, []]))
    const errors = new Map<Endpoint, number>(endpoints.map((e) => [e, 0]))
    for (let r = 0; r < options.warmup + options.rounds; r++) {
      if (r > options.warmup && Date.now() - started > options.budgetMs) break
      for (const e of roundOrder(endpoints, r)) {
        const list = clients.get(e)!
        const child = servers.get(e)!.child
        if (forcedGc) await request(child, "gc", "gc-done")
        const before = await request<Stats>(child, "stats", "stats")
        const deadline = Date.now() + options.roundMs
        let issued = 0
        let done = 0
        const lat: Array<number> = []
        const t0 = now()
        await Promise.all(list.map(async (client) => {
          while (issued < options.callsPerRound && Date.now() < deadline) {
            issued++
            const c0 = now()
            try {
              const res = (await client.callTool({ name: "t" })) as CallToolResult
              if (res.isError) errors.set(e, errors.get(e)! + 1)
            } catch {
              errors.set(e, errors.get(e)! + 1)
            }
            lat.push(Number(now() - c0))
            done++
          }
        }))
        const elapsed = Number(now() - t0)
        const after = await request<Stats>(child, "stats", "stats")
        if (r >= options.warmup) {
          const cpu = (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) * 1000
          perRound.get(e)!.push({
            cps: done / (elapsed / 1e9),
            cpu: cpu / done,
            reqs: (after.requests - before.requests) / done,
            calls: done
          })
          latencies.get(e)!.push(...lat)
        }
      }
    }
    // BENCH_HTTP_ALLOC=1: after the measured rounds, one more batch of calls per endpoint under
    // the server's sampling heap profiler (not timed: the profiler slows the server down)
    const allocPerCall = new Map<Endpoint, number>()
    if (process.env.BENCH_HTTP_ALLOC === "1") {
      for (const e of endpoints) {
        const child = servers.get(e)!.child
        await request(child, "alloc-start", "alloc-started")
        let issued = 0
        await Promise.all(clients.get(e)!.map(async (client) => {
          while (issued < 1000) {
            issued++
            await client.callTool({ name: "t" })
          }
        }))
        const a = await request<{ bytes: number; requests: number }>(child, "alloc-stop", "alloc")
        allocPerCall.set(e, a.bytes / issued)
      }
    }
    const results = endpoints.map((e) => {
      const rounds = perRound.get(e)!
      const base = perRound.get(baselineOf[e])!
      return {
        endpoint: e,
        label: labels[e],
        callsPerSec: summarize(rounds.map((x) => x.cps)),
        latency: summarize(latencies.get(e)!),
        serverCpuPerCall: summarize(rounds.map((x) => x.cpu)),
        httpRequestsPerCall: summarize(rounds.map((x) => x.reqs)).median,
        errors: errors.get(e)!,
        rounds: rounds.length,
        roundRatio: summarize(rounds.map((x, i) => x.cps / base[i]!.cps)).median,
        roundRatios: rounds.map((x, i) => x.cps / base[i]!.cps),
        cpuRoundRatio: summarize(rounds.map((x, i) => x.cpu / base[i]!.cpu)).median,
        perRound: rounds.map((x) => ({ callsPerSec: Math.round(x.cps), serverCpuUsPerCall: Math.round(x.cpu / 1000), calls: x.calls })),
        ...(allocPerCall.has(e) ? { serverBytesPerCall: allocPerCall.get(e)! } : {})
      }
    })
    return { results, idleRequestsPerClientPerSec }
  } finally {
    await Promise.allSettled(Array.from(clients.values()).flat().map((c) => c.close()))
    await Promise.allSettled(Array.from(servers.values()).map((s) => stopServer(s.child)))
  }
}

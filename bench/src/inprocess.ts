/**
 * Benchmark 1 (and 4): one tool call, in process, over the SDK's `InMemoryTransport` with a real
 * `Client`. Every variant is a separate server/client pair built once; the measured rounds
 * alternate between them so that JIT state, GC pressure and CPU frequency drift hit all of them
 * alike. The baseline is a bare `McpServer` doing the same work in its tool (read the API key
 * from `process.env`) as the credential variants (read it from the resolved credential).
 */
import { CurrentCredential, EnvCredentialBackend, HeaderCredentialBackend } from "@mcp-credentials/core"
import { getCredentials, McpCredentials, McpCredentialsV2 } from "@mcp-credentials/server"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { createMcpHandler, McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { CallToolResult, JSONRPCMessage, MessageExtraInfo } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { randomBytes } from "node:crypto"
import { collect, now, roundOrder, summarize, type Summary } from "./stats.js"

export interface CallVariant {
  readonly name: string
  /** The variant this one is compared with (default: the first one). */
  readonly baseline?: string
  readonly call: () => Promise<unknown>
  readonly close: () => Promise<void>
}

export interface VariantResult {
  readonly name: string
  /** The name of the variant it is compared with (itself for a baseline). */
  readonly baseline: string
  readonly perCall: Summary // ns
  /** Median over rounds of (this variant's mean per call / the baseline's mean per call in the same round). */
  readonly roundRatio: number
  readonly ratio: number // median / baseline median
  readonly addedNs: number // median - baseline median
}

export interface Options {
  readonly rounds: number
  readonly warmup: number
  readonly calls: number
  /** Stop starting rounds after this much time (at least 3 measured rounds run). */
  readonly budgetMs?: number
}

/** Runs `variants` in alternating rounds; the first one is the baseline. */
export const compareInterleaved = async (
  variants: ReadonlyArray<CallVariant>,
  options: Options
): Promise<{ readonly rounds: number; readonly results: ReadonlyArray<VariantResult> }> => {
  const started = Date.now()
  let measured = 0
  const perCall = new Map<string, Array<number>>(variants.map((v) => [v.name, []]))
  const roundMeans = new Map<string, Array<number>>(variants.map((v) => [v.name, []]))
  for (let r = 0; r < options.warmup + options.rounds; r++) {
    if (measured >= 3 && options.budgetMs !== undefined && Date.now() - started > options.budgetMs) break
    if (r >= options.warmup) measured++
    for (const v of roundOrder(variants, r)) {
      const samples = new Array<number>(options.calls)
      collect()
      for (let i = 0; i < options.calls; i++) {
        const t0 = now()
        await v.call()
        samples[i] = Number(now() - t0)
      }
      if (r >= options.warmup) {
        perCall.get(v.name)!.push(...samples)
        roundMeans.get(v.name)!.push(samples.reduce((s, x) => s + x, 0) / samples.length)
      }
    }
  }
  const results = variants.map((v) => {
    const base = v.baseline ?? variants[0]!.name
    const baseSummary = summarize(perCall.get(base)!)
    const baseRounds = roundMeans.get(base)!
    const s = summarize(perCall.get(v.name)!)
    const rounds = roundMeans.get(v.name)!
    return {
      name: v.name,
      baseline: base,
      perCall: s,
      roundRatio: summarize(rounds.map((m, i) => m / baseRounds[i]!)).median,
      ratio: s.median / baseSummary.median,
      addedNs: s.median - baseSummary.median
    }
  })
  return { rounds: measured, results }
}

// -----------------------------------------------------------------------------
// the servers
// -----------------------------------------------------------------------------

const result = (key: string | undefined): CallToolResult => ({
  content: [{ type: "text", text: `key-len:${key?.length ?? 0}` }]
})

/** A unique env prefix for this process, plus ~50 unrelated variables. */
export const setUpEnv = () => {
  const prefix = `MCPCB_${process.pid}_`
  const secret = `sk-bench-${randomBytes(16).toString("hex")}`
  process.env[`${prefix}FIELD_apiKey`] = secret
  for (let i = 0; i < 50; i++) process.env[`BENCH_NOISE_${process.pid}_${i}`] = randomBytes(20).toString("hex")
  return {
    prefix,
    secret,
    envCount: Object.keys(process.env).length,
    cleanup: () => {
      delete process.env[`${prefix}FIELD_apiKey`]
      for (let i = 0; i < 50; i++) delete process.env[`BENCH_NOISE_${process.pid}_${i}`]
    }
  }
}

const link = async (name: string, connectServer: (t: InMemoryTransport) => Promise<unknown>, close: () => Promise<unknown>): Promise<CallVariant> => {
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair()
  const client = new Client({ name: "bench-client", version: "1.0.0" })
  await Promise.all([connectServer(serverTransport), client.connect(clientTransport)])
  // sanity: the tool answers with the key's length, not an error
  const first = (await client.callTool({ name: "t" })) as CallToolResult
  const text = (first.content[0] as { text?: string } | undefined)?.text ?? ""
  if (first.isError || !text.startsWith("key-len:") || text === "key-len:0") {
    throw new Error(`variant ${name}: unexpected result ${JSON.stringify(first)}`)
  }
  return {
    name,
    call: () => client.callTool({ name: "t" }),
    close: async () => {
      await client.close()
      await close()
    }
  }
}

const bare = async (envVar: string) => {
  const server = new McpServer({ name: "bench", version: "1.0.0" })
  server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
  return link("bare SDK (baseline)", (t) => server.connect(t), () => server.close())
}

type Mode = "undeclared-sdk" | "undeclared" | "static-async" | "static-effect"

const installed = async (mode: Mode, envPrefix: string, envVar: string) => {
  const server = new McpServer({ name: "bench", version: "1.0.0" })
  const creds = McpCredentials.install(server, { layer: EnvCredentialBackend.layer({ prefix: envPrefix }) })
  let name: string
  switch (mode) {
    case "undeclared-sdk":
      // registered with the SDK directly: only the protocol-level interception runs
      server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
      name = "install, no credential (server.registerTool)"
      break
    case "undeclared":
      creds.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
      name = "install, no credential (creds.registerTool)"
      break
    case "static-async":
      creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
        const c = getCredentials()
        return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
      })
      name = "install, static env cred, async getCredentials()"
      break
    case "static-effect":
      creds.registerTool("t", { description: "bench tool", credentials: "static" }, () =>
        Effect.map(CurrentCredential.getStatic(), (c) => result(Redacted.value(c.fields.apiKey!))))
      name = "install, static env cred, Effect tool"
      break
  }
  return link(name, (t) => server.connect(t), async () => {
    await server.close()
    await creds.dispose()
  })
}

// -----------------------------------------------------------------------------
// v2 (`@modelcontextprotocol/server`, protocol 2026-07-28): there is no in-memory modern
// transport (a hand-built server over `InMemoryTransport` speaks only the 2025 era), so the real
// 2026-07-28 path is driven in process: the v2 `Client` with a `fetch` that hands each web
// `Request` to `createMcpHandler(...).fetch` — no socket, one new `McpServer` per request, as
// the SDK serves every modern request.
// -----------------------------------------------------------------------------

export const v2Baseline = "v2 bare SDK, 2026-07-28, createMcpHandler.fetch (baseline v2)"

const linkV2 = async (name: string, factory: () => McpServerV2, close: () => Promise<unknown> = async () => {}): Promise<CallVariant> => {
  const mcp = createMcpHandler(() => factory())
  const fetchImpl = (input: string | URL | Request, init?: RequestInit) => mcp.fetch(new Request(input, init))
  const client = new ClientV2({ name: "bench-client", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
  await client.connect(new TransportV2(new URL("http://127.0.0.1/mcp"), { fetch: fetchImpl as typeof fetch }))
  if (client.getProtocolEra() !== "modern") throw new Error(`variant ${name}: not on 2026-07-28`)
  const first = (await client.callTool({ name: "t" })) as CallToolResult
  const text = (first.content[0] as { text?: string } | undefined)?.text ?? ""
  if (first.isError || !text.startsWith("key-len:") || text === "key-len:0") {
    throw new Error(`variant ${name}: unexpected result ${JSON.stringify(first)}`)
  }
  return {
    name,
    baseline: v2Baseline,
    call: () => client.callTool({ name: "t" }),
    close: async () => {
      await client.close()
      await mcp.close()
      await close()
    }
  }
}

const bareV2 = (envVar: string) =>
  linkV2(v2Baseline, () => {
    const server = new McpServerV2({ name: "bench", version: "1.0.0" })
    server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
    return server
  })

const installedV2 = async (mode: Mode, envPrefix: string, envVar: string) => {
  const managed = ManagedRuntime.make(EnvCredentialBackend.layer({ prefix: envPrefix }))
  const runtime = await managed.runtime()
  const names: Record<Mode, string> = {
    "undeclared-sdk": "v2 install, no credential (server.registerTool)",
    undeclared: "v2 install, no credential (creds.registerTool)",
    "static-async": "v2 install, static env cred, async getCredentials()",
    "static-effect": "v2 install, static env cred, Effect tool"
  }
  return linkV2(names[mode], () => {
    const server = new McpServerV2({ name: "bench", version: "1.0.0" })
    const creds = McpCredentialsV2.install(server, { runtime })
    switch (mode) {
      case "undeclared-sdk":
        server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
        break
      case "undeclared":
        creds.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
        break
      case "static-async":
        creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
          const c = McpCredentialsV2.getCredentials()
          return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
        })
        break
      case "static-effect":
        creds.registerTool("t", { description: "bench tool", credentials: "static" }, () =>
          Effect.map(CurrentCredential.getStatic(), (c) => result(Redacted.value(c.fields.apiKey!))))
        break
    }
    return server
  }, () => managed.dispose())
}

const fastmcp = async (envVar: string): Promise<CallVariant> => {
  const { FastMCP } = await import("fastmcp")
  const server = new FastMCP({ name: "bench", version: "1.0.0" })
  server.addTool({ name: "t", description: "bench tool", execute: async () => result(process.env[envVar]) as any })
  return link("fastmcp", (t) => server.connect(t as any), () => server.stop().catch(() => undefined))
}

/** The version of an installed package, read from the nearest `node_modules/<name>/package.json`. */
export const packageVersion = async (name: string): Promise<string> => {
  const { readFile } = await import("node:fs/promises")
  const path = await import("node:path")
  const { fileURLToPath } = await import("node:url")
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (;;) {
    try {
      return JSON.parse(await readFile(path.join(dir, "node_modules", name, "package.json"), "utf8")).version
    } catch {
      const up = path.dirname(dir)
      if (up === dir) return "?"
      dir = up
    }
  }
}

export interface InProcessReport {
  readonly env: { readonly count: number }
  readonly results: ReadonlyArray<VariantResult>
  readonly rounds: number
  readonly options: Options
}

export const run = async (options: Options): Promise<InProcessReport> => {
  const env = setUpEnv()
  const envVar = `${env.prefix}FIELD_apiKey`
  const variants = [
    await bare(envVar),
    await installed("undeclared-sdk", env.prefix, envVar),
    await installed("undeclared", env.prefix, envVar),
    await installed("static-async", env.prefix, envVar),
    await installed("static-effect", env.prefix, envVar),
    await bareV2(envVar),
    await installedV2("undeclared-sdk", env.prefix, envVar),
    await installedV2("static-async", env.prefix, envVar),
    await installedV2("static-effect", env.prefix, envVar)
  ]
  try {
    const { results, rounds } = await compareInterleaved(variants, options)
    return { env: { count: env.envCount }, results, rounds, options }
  } finally {
    for (const v of variants) await v.close()
    env.cleanup()
  }
}

// -----------------------------------------------------------------------------
// 1b: a new server per request (the stateless HTTP pattern) without HTTP
// -----------------------------------------------------------------------------

export type Factory = () => McpServer

/** One stateless request: build the server, connect it, answer one `tools/call`, close it. */
export const perRequest = (factory: Factory, headers: Record<string, string>) => {
  let id = 0
  return async (): Promise<unknown> => {
    const server = factory()
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await server.connect(serverSide)
    // what the Streamable HTTP transport adds to every message: the request's headers
    const inner = serverSide.onmessage as (message: JSONRPCMessage, extra?: MessageExtraInfo) => void
    serverSide.onmessage = (message, extra) => inner(message, { ...extra, requestInfo: { headers } })
    const response = new Promise<unknown>((resolve) => {
      clientSide.onmessage = resolve
    })
    await clientSide.start()
    await clientSide.send({ jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name: "t", arguments: {} } })
    const message = await response
    await server.close()
    return message
  }
}

/** The two servers of 1b, and the headers a transport would pass (also used by `profile.ts`). */
export const perRequestSetup = async () => {
  const secret = `sk-bench-${randomBytes(16).toString("hex")}`
  const headers = {
    host: "127.0.0.1:3000",
    accept: "application/json, text/event-stream",
    "content-type": "application/json",
    "mcp-protocol-version": "2025-11-25",
    "x-mcp-cred-fields": JSON.stringify({ apiKey: secret })
  }
  const managed = ManagedRuntime.make(HeaderCredentialBackend.layer())
  const runtime = await managed.runtime()
  const bareFactory: Factory = () => {
    const server = new McpServer({ name: "bench", version: "1.0.0" })
    server.registerTool("t", { description: "bench tool" }, async (extra) => {
      const raw = extra.requestInfo?.headers["x-mcp-cred-fields"]
      return result(typeof raw === "string" ? (JSON.parse(raw) as { apiKey?: string }).apiKey : undefined)
    })
    return server
  }
  const installedFactory: Factory = () => {
    const server = new McpServer({ name: "bench", version: "1.0.0" })
    const creds = McpCredentials.install(server, { runtime })
    creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
      const c = getCredentials()
      return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
    })
    return server
  }
  return { secret, headers, bareFactory, installedFactory, dispose: () => managed.dispose() }
}

export const runPerRequest = async (options: Options): Promise<InProcessReport> => {
  const { bareFactory, dispose, headers, installedFactory, secret } = await perRequestSetup()
  const variants: Array<CallVariant> = [
    { name: "bare SDK, new server per request (baseline)", call: perRequest(bareFactory, headers), close: async () => {} },
    { name: "install + HeaderCredentialBackend, new server per request", call: perRequest(installedFactory, headers), close: async () => {} }
  ]
  for (const v of variants) {
    const text = JSON.stringify(await v.call())
    if (!text.includes(`key-len:${secret.length}`)) throw new Error(`variant ${v.name}: unexpected result ${text}`)
  }
  try {
    const { results, rounds } = await compareInterleaved(variants, options)
    return { env: { count: Object.keys(process.env).length }, results, rounds, options }
  } finally {
    await dispose()
  }
}

export type PeerReport =
  | { readonly ok: true; readonly results: ReadonlyArray<VariantResult>; readonly rounds: number; readonly options: Options; readonly version: string }
  | { readonly ok: false; readonly reason: string }

/** Benchmark 4: punkpeye `fastmcp` against the bare SDK, same tool, same transport. */
export const runPeer = async (options: Options): Promise<PeerReport> => {
  const env = setUpEnv()
  const envVar = `${env.prefix}FIELD_apiKey`
  let peer: CallVariant
  let version = "?"
  try {
    peer = await fastmcp(envVar)
    version = await packageVersion("fastmcp")
  } catch (e) {
    env.cleanup()
    return { ok: false, reason: e instanceof Error ? e.message : String(e) }
  }
  const baseline = await bare(envVar)
  try {
    const { results, rounds } = await compareInterleaved([baseline, peer], options)
    return { ok: true, results, rounds, options, version }
  } finally {
    await baseline.close()
    await peer.close()
    env.cleanup()
  }
}

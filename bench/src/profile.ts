/**
 * Where the time of one in-process tool call goes: runs N calls of one variant of benchmark 1
 * under the V8 sampling profiler (`node:inspector`, 50 µs interval) and prints the CPU time per
 * call by bucket. Not part of `npm run bench` (the profiler slows everything down, so read the
 * buckets as shares, not as absolute figures):
 *
 *   node bench/dist/profile.js [bare|none|static|effect|header|prbare|prheader|v2bare|v2none|v2static|v2header] [calls]
 *
 * `none`: installed, tool declares nothing; `static`/`effect`: Env backend, async or Effect tool;
 * `header`: HeaderCredentialBackend with the header given through a fake `requestInfo`.
 * `prbare`/`prheader`: benchmark 1b, a new server per request (bare, or installed with a Header
 * credential), as the stateless HTTP endpoints build them.
 * `v2…`: the same on the v2 SDK, 2026-07-28, the v2 `Client` calling `createMcpHandler(...).fetch`
 * in process (a new `McpServer` per request); `v2header` sends `X-MCP-Cred-Fields`.
 * `PROFILE_TOP=n` also prints the n functions with the most self time; `PROFILE_OUT=file` saves
 * the raw profile (`.cpuprofile`, for Chrome DevTools).
 */
import { CurrentCredential, EnvCredentialBackend, HeaderCredentialBackend } from "@mcp-credentials/core"
import { getCredentials, McpCredentials, McpCredentialsV2 } from "@mcp-credentials/server"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { createMcpHandler, McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import * as ManagedRuntime from "effect/ManagedRuntime"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector"
import { perRequest, perRequestSetup, setUpEnv } from "./inprocess.js"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber?: number
}
interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}
interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

/**
 * Buckets matched against any frame of the stack (innermost first): the code of these modules and
 * what it calls. The promise hooks, `CurrentCredential` and `CallStorage` are bucketed by the
 * innermost frame (below): their `run`s are ancestors of all the work of a call.
 */
const stackRules: ReadonlyArray<readonly [string, (f: CallFrame) => boolean]> = [
  ["StaticCredential.fromFields (Schema.Class validation)", (f) => /ResolvedCredential\.js/.test(f.url)],
  ["EnvCredentialBackend (its own code)", (f) => /EnvCredentialBackend\.js/.test(f.url)],
  ["HeaderCredentialBackend", (f) => /HeaderCredentialBackend\.js/.test(f.url)],
  ["Scrubber (make + scrub)", (f) => /Scrubber\.js/.test(f.url)],
  ["ToolContext.visibleHeaders", (f) => /ToolContext\.js/.test(f.url)]
]

/** Buckets for the innermost frame when no stack rule matched (Effect's fiber loop flattens stacks). */
const leafBucket = (f: CallFrame): string => {
  if (f.functionName === "(garbage collector)") return "GC"
  // by the innermost frame only: `AsyncLocalStorage.run` is an ancestor of everything a call runs
  if (/async_hooks|promise_hooks/.test(f.url)) return "async_hooks (AsyncLocalStorage promise hooks)"
  if (/CurrentCredential\.js|CallStorage\.js/.test(f.url)) return "CurrentCredential, CallStorage (their own code)"
  if (f.functionName === "(idle)") return "idle"
  const u = f.url
  if (/packages\/(server|core)\//.test(u)) return "install glue (McpCredentials, pipeline, CredentialMiddleware)"
  if (/effect\/dist\/esm\/(internal\/)?(configProvider|config|configError)(\/.*)?\.js/.test(u)) return "Effect Config/ConfigProvider (Env backend reads)"
  if (/effect\/dist\/esm\/(ParseResult|Schema|SchemaAST)\.js/.test(u)) return "Effect Schema"
  if (/effect\/dist/.test(u)) return "Effect runtime (fibers, scheduler, FiberRefs, Exit)"
  if (/modelcontextprotocol|zod/.test(u)) return "SDK + zod (client and server)"
  if (/undici|internal\/webstreams|internal\/url/.test(u)) return "web Request/Response/Headers/streams (undici, node)"
  return "node internals, natives, promises"
}

const bucketize = (profile: Profile, calls: number): Array<readonly [string, number]> => {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const buckets = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const t = profile.timeDeltas[i]!
    let label: string | undefined
    for (let cur: number | undefined = id; cur !== undefined && label === undefined; cur = parent.get(cur)) {
      const f = nodes.get(cur)!.callFrame
      label = stackRules.find(([, r]) => r(f))?.[0]
    }
    label ??= leafBucket(nodes.get(id)!.callFrame)
    buckets.set(label, (buckets.get(label) ?? 0) + t)
  })
  return [...buckets].map(([l, t]) => [l, t / calls] as const).sort((a, b) => b[1] - a[1])
}

/** Self time per function (innermost frame), for `PROFILE_TOP=n`. */
const topFunctions = (profile: Profile, calls: number, n: number): Array<readonly [string, number]> => {
  const nodes = new Map(profile.nodes.map((x) => [x.id, x]))
  const self = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const f = nodes.get(id)!.callFrame
    const where = f.url.replace(/^.*node_modules\//, "").replace(/^.*\/packages\//, "packages/").replace(/^file:\/\//, "")
    const key = `${f.functionName || "(anonymous)"}  ${where}${f.lineNumber !== undefined && f.lineNumber >= 0 ? `:${f.lineNumber + 1}` : ""}`
    self.set(key, (self.get(key) ?? 0) + profile.timeDeltas[i]!)
  })
  return [...self].map(([k, t]) => [k, t / calls] as const).sort((a, b) => b[1] - a[1]).slice(0, n)
}

const post = <A>(session: Session, method: string, params?: object): Promise<A> =>
  new Promise((resolve, reject) =>
    session.post(method, params ?? {}, (err, res) => (err ? reject(err) : resolve(res as A))))

/** A v2 client calling `createMcpHandler(...).fetch` in process (no socket). */
const v2Client = async (mode: string, envPrefix: string, envVar: string, secret: string) => {
  const result = (key: string | undefined): CallToolResult => ({ content: [{ type: "text", text: `key-len:${key?.length ?? 0}` }] })
  const managed = ManagedRuntime.make(mode === "v2header" ? HeaderCredentialBackend.layer() : EnvCredentialBackend.layer({ prefix: envPrefix }))
  const runtime = await managed.runtime()
  const factory = () => {
    const server = new McpServerV2({ name: "bench", version: "1.0.0" })
    if (mode === "v2bare") {
      server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
      return server
    }
    const creds = McpCredentialsV2.install(server, { runtime })
    if (mode === "v2none") server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
    else {
      creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
        const c = McpCredentialsV2.getCredentials()
        return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
      })
    }
    return server
  }
  const mcp = createMcpHandler(factory)
  const client = new ClientV2({ name: "bench-client", version: "1.0.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
  const headers = mode === "v2header" ? { "x-mcp-cred-fields": JSON.stringify({ apiKey: secret }) } : {}
  await client.connect(new TransportV2(new URL("http://127.0.0.1/mcp"), {
    requestInit: { headers },
    fetch: ((input: string | URL | Request, init?: RequestInit) => mcp.fetch(new Request(input, init))) as typeof fetch
  }))
  return {
    callTool: (p: { name: string }) => client.callTool(p) as Promise<CallToolResult>,
    close: async () => {
      await client.close()
      await mcp.close()
      await managed.dispose()
    }
  }
}

const main = async () => {
  const mode = process.argv[2] ?? "static"
  const calls = Number(process.argv[3] ?? 20000)
  const env = setUpEnv()
  const envVar = `${env.prefix}FIELD_apiKey`
  const result = (key: string | undefined): CallToolResult => ({ content: [{ type: "text", text: `key-len:${key?.length ?? 0}` }] })
  if (mode === "prbare" || mode === "prheader") {
    // 1b: a new server per request, header credential (as the stateless HTTP endpoints)
    const setup = await perRequestSetup()
    const call = perRequest(mode === "prbare" ? setup.bareFactory : setup.installedFactory, setup.headers)
    await profileCalls(mode, calls, { callTool: async () => ({ content: [], isError: !JSON.stringify(await call()).includes("key-len:") }) })
    await setup.dispose()
    env.cleanup()
    return
  }
  if (mode.startsWith("v2")) {
    const client = await v2Client(mode, env.prefix, envVar, env.secret)
    await profileCalls(mode, calls, client)
    await client.close()
    env.cleanup()
    return
  }
  const server = new McpServer({ name: "bench", version: "1.0.0" })
  let dispose = async () => {}
  if (mode === "bare") {
    server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
  } else {
    const creds = McpCredentials.install(server, {
      layer: mode === "header" ? HeaderCredentialBackend.layer() : EnvCredentialBackend.layer({ prefix: env.prefix })
    })
    dispose = creds.dispose
    if (mode === "none") server.registerTool("t", { description: "bench tool" }, async () => result(process.env[envVar]))
    else if (mode === "effect") {
      creds.registerTool("t", { description: "bench tool", credentials: "static" }, () =>
        Effect.map(CurrentCredential.getStatic(), (c) => result(Redacted.value(c.fields.apiKey!))))
    } else {
      creds.registerTool("t", { description: "bench tool", credentials: "static" }, async () => {
        const c = getCredentials()
        return result(c.type === "static" ? Redacted.value(c.fields.apiKey!) : undefined)
      })
    }
  }
  if (mode === "header") {
    // what the Streamable HTTP transport gives the server: the request's headers
    const headers = { "x-mcp-cred-fields": JSON.stringify({ apiKey: env.secret }), "content-type": "application/json" }
    const originalConnect = server.connect.bind(server)
    server.connect = async (transport) => {
      const onmessage = () => transport.onmessage
      await originalConnect(transport)
      const inner = onmessage()!
      transport.onmessage = (message, extra) => inner(message, { ...extra, requestInfo: { headers } })
    }
  }
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair()
  const client = new Client({ name: "bench-client", version: "1.0.0" })
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)])
  await profileCalls(mode, calls, { callTool: (p) => client.callTool(p) as Promise<CallToolResult> })
  await client.close()
  await dispose()
  env.cleanup()
}

const profileCalls = async (
  mode: string,
  calls: number,
  client: { readonly callTool: (p: { name: string }) => Promise<CallToolResult> }
) => {
  const first = (await client.callTool({ name: "t" })) as CallToolResult
  if (first.isError) throw new Error(JSON.stringify(first))
  for (let i = 0; i < Math.min(5000, calls); i++) await client.callTool({ name: "t" }) // warm-up

  const session = new Session()
  session.connect()
  await post(session, "Profiler.enable")
  await post(session, "Profiler.setSamplingInterval", { interval: 50 })
  await post(session, "Profiler.start")
  const t0 = performance.now()
  for (let i = 0; i < calls; i++) await client.callTool({ name: "t" })
  const elapsed = performance.now() - t0
  const { profile } = await post<{ profile: Profile }>(session, "Profiler.stop")
  session.disconnect()

  console.log(`${mode}: ${calls} calls, ${((elapsed / calls) * 1000).toFixed(1)} µs/call under the profiler`)
  for (const [label, us] of bucketize(profile, calls)) {
    if (us >= 0.1) console.log(`${us.toFixed(1).padStart(8)} µs/call  ${label}`)
  }
  // PROFILE_OUT=file.cpuprofile: the raw profile, for Chrome DevTools or a script
  const out = process.env.PROFILE_OUT
  if (out !== undefined && out !== "") writeFileSync(out, JSON.stringify(profile))
  const top = Number(process.env.PROFILE_TOP ?? 0)
  if (top > 0) {
    console.log(`top ${top} functions by self time:`)
    for (const [label, us] of topFunctions(profile, calls, top)) console.log(`${us.toFixed(1).padStart(8)} µs/call  ${label}`)
  }
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

/**
 * Leak oracle: canary secrets in env and headers; every JSON-RPC message in both directions and
 * every log line (Effect logger and console) is recorded while tools misbehave in every way we
 * know; not one canary may appear in any encoded form.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest"
import { CredentialBackend, CurrentCredential, EnvCredentialBackend, HeaderCredentialBackend } from "@mcp-credentials/core"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { ConfigProvider, Effect, Layer, Logger, Option, Redacted, type Runtime } from "effect"
import { createServer, type Server } from "node:http"
import { getCredentials, McpCredentials, ToolContext, ToolError } from "../src/index.js"
import { connect, startHttp } from "./helpers.js"

const CANARIES = {
  envKey: "CANARY-env-key-7f3a91",
  envToken: "CANARY-env-token-2b8c44",
  envRefresh: "CANARY-env-refresh-9d1e07",
  envClientSecret: "CANARY-env-csecret-5a6b18",
  hdrKey: "CANARY-hdr-key-3c9d52",
  hdrToken: "CANARY-hdr-token-8e2f63",
  malformed: "CANARY-malformed-1a4b75",
  gateway: "CANARY-gateway-secret-6c7d86"
}
const ALL = Object.values(CANARIES)

/** Every occurrence of a canary in text: plain, JSON-escaped, URL-encoded, or inside any base64/base64url blob. */
const occurrences = (text: string): number => {
  let n = 0
  for (const c of ALL) {
    for (const form of new Set([c, JSON.stringify(c).slice(1, -1), encodeURIComponent(c)])) n += text.split(form).length - 1
  }
  for (const blob of text.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []) {
    for (const enc of ["base64", "base64url"] as const) {
      for (let cut = 0; cut < 4; cut++) {
        const decoded = Buffer.from(blob.slice(cut), enc).toString("latin1")
        for (const c of ALL) if (decoded.includes(c)) n++
      }
    }
  }
  return n
}

/** A user class holding a secret (serialised by JSON.stringify through its own properties). */
class Repo {
  constructor(readonly url: string) {}
}

/** `depth` nested objects with `leaf` at the bottom. */
const nested = (depth: number, leaf: unknown): unknown => (depth === 0 ? leaf : { next: nested(depth - 1, leaf) })

/** A downstream API that answers 401 and echoes the credentials it received. */
const startDownstream = async () => {
  const server: Server = createServer((req, res) => {
    res.writeHead(401, { "content-type": "application/json" })
    res.end(JSON.stringify({ error: "bad credentials", authorization: req.headers.authorization, apiKey: req.headers["x-api-key"], url: req.url }))
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as { port: number }).port
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) }
}

describe("leak oracle", () => {
  const logLines: Array<string> = []
  const messages: Array<string> = []
  let downstream: Awaited<ReturnType<typeof startDownstream>>
  const servers: Array<Awaited<ReturnType<typeof startHttp>>> = []
  const spies: Array<{ mockRestore: () => void }> = []

  const buildServer = (runtime: Runtime.Runtime<never>) => {
    const server = new McpServer({ name: "leaky", version: "1" }, { capabilities: { logging: {} } })
    const creds = McpCredentials.install(server, { runtime, credentialHeaderPrefixes: ["X-MCP-Cred-"] })
    const key = () => {
      const c = getCredentials()
      return c.type === "static" ? Redacted.value(c.fields.apiKey!) : Redacted.value(c.accessToken)
    }
    creds.registerTool("downstream_401", { description: "calls an API that echoes the credential", credentials: "static" }, async () => {
      const k = key()
      const res = await fetch(`${downstream.url}/v1/items?key=${encodeURIComponent(k)}`, {
        headers: { authorization: `Bearer ${k}`, "x-api-key": k }
      })
      return { content: [{ type: "text", text: `HTTP ${res.status}: ${await res.text()}` }], isError: true }
    })
    creds.registerTool("oauth_401", { description: "bearer call, echoed", credentials: { token: "oauth" } }, () =>
      Effect.gen(function*() {
        const c = yield* CurrentCredential.getOAuth("token")
        const body = yield* Effect.promise(() =>
          fetch(downstream.url, { headers: { authorization: `Bearer ${Redacted.value(c.accessToken)}` } }).then((r) => r.text())
        )
        return yield* new ToolError.ToolError({ message: `downstream said ${body}` })
      }))
    creds.registerTool("throws", { description: "throws with the key", credentials: "static" }, async () => {
      throw new Error(`failed with key ${key()}`)
    })
    creds.registerTool("dies", { description: "defect with the key", credentials: "static" }, () =>
      Effect.sync(() => {
        throw new TypeError(`defect with key ${key()}`)
      }))
    creds.registerTool("encodes", { description: "returns encoded forms", credentials: "static" }, async () => {
      const k = key()
      return {
        content: [
          { type: "text", text: `basic ${Buffer.from(`user:${k}`).toString("base64")}` },
          { type: "text", text: `url https://x/?k=${encodeURIComponent(k)} b64url ${Buffer.from(`xy${k}`).toString("base64url")}` },
          { type: "text", text: JSON.stringify({ header: `Bearer ${k}`, quoted: `"${k}"` }) }
        ],
        structuredContent: { nested: { deeper: [k, { [k]: k }] } }
      }
    })
    creds.registerTool("slow_then_throws", { description: "awaits, then throws with the key", credentials: "static" }, async () => {
      const k = key()
      await new Promise((r) => setTimeout(r, 300))
      throw new Error(`upstream rejected key ${k}`)
    })
    creds.registerTool("structured_classes", { description: "secrets inside class instances and deep structures", credentials: "static" }, async () => {
      const k = key()
      return {
        content: [{ type: "text", text: "structured" }],
        structuredContent: { opt: Option.some(k), repo: new Repo(`https://x.example/?k=${k}`), deep: nested(80, `token=${k}`) }
      }
    })
    creds.registerTool("context_notifications", { description: "progress, log and notify through ToolContext", credentials: "static" }, () =>
      Effect.gen(function*() {
        const k = key()
        const t = yield* ToolContext.ToolContext
        yield* t.progress(1, { total: 2, message: `calling upstream with Bearer ${k}` })
        yield* t.log("info", { note: "upstream auth", header: `Bearer ${k}` })
        yield* t.notify!("notifications/message", { level: "warning", data: `key=${encodeURIComponent(k)}` })
        return "notified"
      }))
    creds.registerTool("progress_and_log", { description: "notifications", credentials: "static" }, (extra) =>
      Effect.promise(async () => {
        await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: "working" } })
        return "done"
      }))
    return server
  }

  beforeAll(async () => {
    for (const m of ["log", "info", "warn", "error", "debug"] as const) {
      const original = console[m].bind(console)
      spies.push(vi.spyOn(console, m).mockImplementation((...args: Array<unknown>) => {
        logLines.push(args.map(String).join(" "))
        void original
      }))
    }
    downstream = await startDownstream()
    const capture = Logger.replace(
      Logger.defaultLogger,
      Logger.make((o) => logLines.push(Logger.logfmtLogger.log(o)))
    )
    const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
      ["SVC_FIELD_apiKey", CANARIES.envKey],
      ["OA_ACCESS_TOKEN", CANARIES.envToken],
      ["OA_REFRESH_TOKEN", CANARIES.envRefresh],
      ["OA_CLIENT_SECRET", CANARIES.envClientSecret]
    ])))
    const envLayer = Layer.mergeAll(
      EnvCredentialBackend.layer({ prefix: "SVC_" }),
      CredentialBackend.layerNamed("token", EnvCredentialBackend.layer({ prefix: "OA_" }))
    ).pipe(Layer.provide(env))
    const headerLayer = Layer.mergeAll(
      HeaderCredentialBackend.layer({ gatewaySecret: Redacted.make(CANARIES.gateway) }),
      CredentialBackend.layerNamed("token", HeaderCredentialBackend.layer({ gatewaySecret: Redacted.make(CANARIES.gateway) }))
    )
    servers.push(await startHttp({ server: buildServer as any }, Layer.merge(envLayer, capture) as any))
    servers.push(await startHttp({ server: buildServer as any }, Layer.merge(headerLayer, capture) as any))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()))
    await downstream.close()
    spies.forEach((s) => s.mockRestore())
  })

  it("no canary appears in any message or log line, in any encoded form", async () => {
    const tools = ["downstream_401", "oauth_401", "throws", "dies", "encodes", "structured_classes", "context_notifications", "progress_and_log"]
    const credHeaders = {
      "X-MCP-Cred-Fields": JSON.stringify({ apiKey: CANARIES.hdrKey }),
      "X-MCP-Cred-Access-Token": CANARIES.hdrToken
    }
    const sign = (h: Record<string, string>) => ({ ...h, ...HeaderCredentialBackend.signGatewayHeaders(h, Redacted.make(CANARIES.gateway)) })
    const signed = sign(credHeaders)
    const sessions: Array<[number, Record<string, string>]> = [
      [0, {}],
      [1, signed],
      [1, credHeaders], // unsigned: refused
      [1, sign({ "X-MCP-Cred-Fields": `{"apiKey":"${CANARIES.malformed}`, "X-MCP-Cred-Expires-At": CANARIES.malformed, "X-MCP-Cred-Access-Token": CANARIES.malformed })],
      [1, sign({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey: { nested: CANARIES.malformed } }) })]
    ]
    let results = 0
    for (const [i, headers] of sessions) {
      const client = await connect(servers[i]!.url, headers, messages)
      for (const name of tools) {
        const r = await client.callTool({ name }, undefined, { onprogress: (p) => void messages.push(JSON.stringify(p)) })
          .catch((e) => ({ error: String(e) }))
        messages.push(JSON.stringify(r))
        results++
      }
      await client.close()
    }
    // the misbehaving tools really ran and really had the secrets
    const all = messages.join("\n")
    expect(all).toContain("[redacted]")
    expect(all).toContain("HTTP 401")
    expect(all).toContain("correlation id")
    expect(all).toContain("Credential headers rejected")
    expect(all).toContain("Invalid X-MCP-Cred-Fields header")
    // the new tools really sent what they were meant to (scrubbed)
    expect(all).toContain("calling upstream with Bearer [redacted]")
    expect(all).toContain("https://x.example/?k=[redacted]")
    expect(all).toContain("token=[redacted]")
    expect(logLines.some((l) => l.includes("Scrubbed"))).toBe(true)
    expect(results).toBe(sessions.length * tools.length)
    expect(messages.length).toBeGreaterThan(60)

    const found = occurrences(all) + occurrences(logLines.join("\n"))
    console.info(`leak audit: ${messages.length} messages, ${logLines.length} log lines, ${found} secret occurrences`)
    expect(found).toBe(0)
  }, 60_000)

  it("a cancelled call whose tool then fails with the key in its error logs it scrubbed", async () => {
    const before = logLines.length
    const client = await connect(servers[0]!.url, {}, messages)
    try {
      const controller = new AbortController()
      setTimeout(() => controller.abort(), 50)
      await client.callTool({ name: "slow_then_throws" }, undefined, { signal: controller.signal }).catch(() => undefined)
      await vi.waitFor(() => expect(logLines.slice(before).some((l) => l.includes("slow_then_throws"))).toBe(true), { timeout: 3000 })
    } finally {
      await client.close()
    }
    const lines = logLines.slice(before).join("\n")
    expect(lines).toContain("upstream rejected key [redacted]")
    expect(occurrences(lines)).toBe(0)
  })

  it("the oracle itself detects every form it claims to (self-test)", () => {
    const c = CANARIES.envKey
    for (const text of [
      c,
      JSON.stringify({ a: `"${c}"` }),
      encodeURIComponent(`${c}/`),
      Buffer.from(`u:${c}`).toString("base64"),
      Buffer.from(`ab${c}`).toString("base64url")
    ]) expect(occurrences(`x ${text} y`), text).toBeGreaterThan(0)
  })
})

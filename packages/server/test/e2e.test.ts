/**
 * End-to-end over Streamable HTTP on both SDK lines: the same tool code, the line's real client
 * (v2: `@modelcontextprotocol/client` on 2026-07-28) over real HTTP on a random loopback port.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CredentialBackend, CurrentCredential, EnvCredentialBackend, HeaderCredentialBackend } from "@mcp-credentials/core"
import { ConfigProvider, Effect, Layer, Redacted, type Runtime } from "effect"
import { createHash } from "node:crypto"
import { z } from "zod"
import { getCredentials, ToolContext } from "../src/index.js"
import { textOf } from "./helpers.js"
import { type Line, lines } from "./lines.js"

const sha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16)

/** The same tool code on both lines: only the server and the installation differ. */
const buildServer = (line: Line) => (runtime: Runtime.Runtime<CredentialBackend.CredentialBackend>) => {
  const server = line.newServer()
  const creds = line.install(server, { runtime })
  creds.registerTool("whoami", { description: "hash of the api key", credentials: "static" }, () =>
    Effect.gen(function*() {
      const c = yield* CurrentCredential.getStatic()
      return `key-hash:${sha(Redacted.value(c.fields.apiKey!))}`
    }))
  creds.registerTool("echo_key", { description: "echoes the key (a leaky tool)", credentials: "static" }, async () => {
    const c = getCredentials()
    await new Promise((r) => setTimeout(r, 1))
    return `the key is ${c.type === "static" ? Redacted.value(c.fields.apiKey!) : ""}`
  })
  creds.registerTool("headers", { description: "visible headers" }, () =>
    Effect.map(ToolContext.ToolContext, (ctx) => ctx.headers))
  creds.registerTool("public", { description: "needs no credential", inputSchema: { n: z.number() } }, ({ n }: { n: number }) => `n=${n}`)
  return server
}

describe.each(lines)("e2e over Streamable HTTP, $name line", (line) => {
  describe("header backend", () => {
    let http: Awaited<ReturnType<Line["start"]>>
    beforeAll(async () => {
      http = await line.start(buildServer(line), HeaderCredentialBackend.layer())
    })
    afterAll(() => http.close())

    it("header credentials reach the tool; the key itself is scrubbed from results", async () => {
      const client = await line.connect(http.url, { "X-MCP-Cred-Fields": JSON.stringify({ apiKey: "sk-hdr-0001" }) })
      expect(textOf(await client.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-hdr-0001")}`)
      const echoed = textOf(await client.callTool({ name: "echo_key" }))
      expect(echoed).toBe("the key is [redacted]")
      await client.close()
    })

    it("a tool that declares no credential runs without any", async () => {
      const client = await line.connect(http.url)
      expect(textOf(await client.callTool({ name: "public", arguments: { n: 3 } }))).toBe("n=3")
      const missing = await client.callTool({ name: "whoami" })
      expect(missing.isError).toBe(true)
      expect(textOf(missing)).toContain("X-MCP-Cred-Fields")
      await client.close()
    })

    it("credential headers are hidden from the tool", async () => {
      const client = await line.connect(http.url, { "X-MCP-Cred-Fields": '{"apiKey":"sk-hidden-1"}', "X-Trace": "t-1" })
      const r = await client.callTool({ name: "headers" })
      const seen = r.structuredContent as Record<string, string>
      expect(seen["x-trace"]).toBe("t-1")
      expect(Object.keys(seen).some((k) => k.startsWith("x-mcp-cred"))).toBe(false)
      await client.close()
    })

    it("200 concurrent clients with different credentials each see only their own", async () => {
      const clients = await Promise.all(
        Array.from({ length: 200 }, (_, i) => line.connect(http.url, { "X-MCP-Cred-Fields": JSON.stringify({ apiKey: `sk-client-${i}-xyz` }) }))
      )
      const results = await Promise.all(clients.map((c) => Promise.all([1, 2, 3].map(() => c.callTool({ name: "whoami" })))))
      results.forEach((rs, i) => rs.forEach((r) => expect(textOf(r)).toBe(`key-hash:${sha(`sk-client-${i}-xyz`)}`)))
      await Promise.all(clients.map((c) => c.close()))
    }, 120_000)
  })

  describe("env backend", () => {
    let http: Awaited<ReturnType<Line["start"]>>
    beforeAll(async () => {
      const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["SVC_FIELD_apiKey", "sk-env-0001"]])))
      http = await line.start(buildServer(line), EnvCredentialBackend.layer({ prefix: "svc_" }).pipe(Layer.provide(env)))
    })
    afterAll(() => http.close())

    it("env credentials reach the tool", async () => {
      const client = await line.connect(http.url)
      expect(textOf(await client.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-env-0001")}`)
      expect(textOf(await client.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
      await client.close()
    })
  })
})

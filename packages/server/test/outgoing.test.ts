/**
 * What a server sends on its own while a tool runs — through the SDK's own senders, not
 * `ToolContext` — is scrubbed of the call's secrets like the result: v1 `extra.sendNotification`,
 * `extra.sendRequest` (sampling straight to the LLM), `server.sendLoggingMessage`,
 * `server.server.createMessage`; v2 `ctx.mcpReq.notify`, `ctx.mcpReq.send`.
 */
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { CreateMessageRequestSchema, CreateMessageResultSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Redacted } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { getCredentials, McpCredentials } from "../src/index.js"
import { flushRecords, lines } from "./lines.js"

const canary = "CANARY-outgoing-7d3e91ab"
const layer = CredentialBackend.layerTest(ResolvedCredential.StaticCredential.fromFields({ apiKey: canary }))
const key = () => {
  const c = getCredentials()
  return c.type === "static" ? Redacted.value(c.fields.apiKey!) : ""
}

describe("what the SDK's own senders send during a call", () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()))
  })
  /** Connects `client` to `server` in memory; both are closed after the test. */
  const connectInMemory = async (server: McpServer, client: Client) => {
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    await server.connect(serverSide)
    await client.connect(clientSide)
    closers.push(async () => {
      await client.close()
      await server.close()
    })
  }

  it("v1 (in memory): extra.sendNotification, extra.sendRequest, sendLoggingMessage and createMessage are scrubbed", async () => {
    const server = new McpServer({ name: "outgoing", version: "1" }, { capabilities: { logging: {} } })
    const creds = McpCredentials.install(server, { layer, tools: { plain_tool: "static" } })
    const send = async (extra: any) => {
      const k = key()
      await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: `related key ${k}` } })
      await server.sendLoggingMessage({ level: "info", data: `logged key ${k}` })
      await extra.sendRequest(
        { method: "sampling/createMessage", params: { messages: [{ role: "user", content: { type: "text", text: `summarise key=${k}` } }], maxTokens: 5 } },
        CreateMessageResultSchema
      )
      await server.server.createMessage({
        messages: [{ role: "user", content: { type: "text", text: `direct ${encodeURIComponent(k)}` } }],
        maxTokens: 5
      })
      return { content: [{ type: "text" as const, text: "sent" }] }
    }
    creds.registerTool("own_tool", { description: "through the integration", credentials: "static" }, send)
    server.registerTool("plain_tool", { description: "registered on the server, declared at install" }, send)

    const received: Array<string> = []
    const client = new Client({ name: "c", version: "1" }, { capabilities: { sampling: {} } })
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      received.push(JSON.stringify(request.params))
      return { role: "assistant", content: { type: "text", text: "ok" }, model: "m" }
    })
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(JSON.stringify(n.params)))
    await connectInMemory(server, client)

    for (const name of ["own_tool", "plain_tool"]) {
      received.length = 0
      const result = await client.callTool({ name })
      expect(result.content).toEqual([{ type: "text", text: "sent" }])
      const all = received.join("\n")
      expect(all, name).toContain("related key [redacted]")
      expect(all, name).toContain("logged key [redacted]")
      expect(all, name).toContain("summarise key=[redacted]")
      expect(all, name).toContain("direct [redacted]")
      expect(all, name).not.toContain(canary)
      expect(all, name).not.toContain(encodeURIComponent(canary))
    }
  })

  it("v1: outside a call the senders pass a message holding no call's secret through untouched", async () => {
    const server = new McpServer({ name: "outgoing", version: "1" }, { capabilities: { logging: {} } })
    McpCredentials.install(server, { layer })
    const received: Array<string> = []
    const client = new Client({ name: "c", version: "1" })
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(JSON.stringify(n.params)))
    await connectInMemory(server, client)
    const data = { text: "not a call: CANARY-never-a-secret-5e2a", n: 1 }
    await server.sendLoggingMessage({ level: "info", data })
    await expect.poll(() => received.length).toBe(1)
    expect(JSON.parse(received[0]!).data).toEqual(data)
  })

  it("fix: a message a tool's own timer sends after its call returned (no call running then) is scrubbed of that call's secrets", async () => {
    const late = "CANARY-late-4b7c19de"
    const server = new McpServer({ name: "outgoing", version: "1" }, { capabilities: { logging: {} } })
    const creds = McpCredentials.install(server, {
      layer: CredentialBackend.layerTest(ResolvedCredential.StaticCredential.fromFields({ apiKey: late }))
    })
    let sent: Promise<void> | undefined
    creds.registerTool("fire_and_forget", { description: "retries in the background", credentials: "static" }, async () => {
      const k = McpCredentials.getField("apiKey")
      setTimeout(() => {
        sent = server.sendLoggingMessage({ level: "error", data: `background retry failed with key ${k}` })
      }, 100)
      return { content: [{ type: "text" as const, text: "started" }] }
    })
    const received: Array<string> = []
    const client = new Client({ name: "c", version: "1" })
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void received.push(JSON.stringify(n.params)))
    await connectInMemory(server, client)
    expect(JSON.stringify(await client.callTool({ name: "fire_and_forget" }))).toContain("started")
    await expect.poll(() => received.length, { timeout: 3000 }).toBe(1)
    await sent
    expect(received[0]).toContain("background retry failed with key [redacted]")
    expect(received[0]).not.toContain(late)
  })

  for (const line of lines) {
    it(`${line.name} over HTTP: a notification the tool sends through the SDK's own context is scrubbed`, async () => {
      const build = (runtime: any) => {
        const server = line.newServer({ capabilities: { logging: {} } })
        const creds = line.install(server, { runtime })
        creds.registerTool("notifies", { description: "sends the key", credentials: "static" }, async (ctx: any) => {
          const message = { method: "notifications/message", params: { level: "info", data: `related key ${key()}` } }
          if (line.name === "v1") await ctx.sendNotification(message)
          else await ctx.mcpReq.notify(message)
          return { content: [{ type: "text", text: "sent" }] }
        })
        return server
      }
      const served = await line.start(build, layer)
      closers.push(served.close)
      const record: Array<string> = []
      const client = await line.connect(served.url, {}, record)
      closers.push(client.close)
      const result = await client.callTool({ name: "notifies" })
      expect(result.content).toEqual([{ type: "text", text: "sent" }])
      await flushRecords()
      const all = record.join("\n")
      expect(all).toContain("related key [redacted]")
      expect(all).not.toContain(canary)
    })
  }

  for (const line of lines) {
    it(`${line.name} over HTTP: a resource handler, like a tool, does not see the credential headers`, async () => {
      const seen: Array<Record<string, string>> = []
      const build = (runtime: any) => {
        const server = line.newServer()
        line.install(server, { runtime })
        server.registerResource("headers", "debug://headers", { mimeType: "application/json" }, async (_uri: URL, ctx: any) => {
          const headers: Record<string, string> = {}
          if (line.name === "v1") Object.assign(headers, ctx.requestInfo?.headers ?? {})
          else ctx.http?.req?.headers.forEach((value: string, name: string) => void (headers[name] = value))
          seen.push(headers)
          return { contents: [{ uri: "debug://headers", text: JSON.stringify(headers) }] }
        })
        return server
      }
      const served = await line.start(build, layer)
      closers.push(served.close)
      const record: Array<string> = []
      const client = await line.connect(served.url, { "X-MCP-Cred-Fields": JSON.stringify({ apiKey: canary }), "X-Trace": "kept" }, record)
      closers.push(client.close)
      const result = await client.readResource("debug://headers")
      await flushRecords()
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.at(-1)!["x-trace"]).toBe("kept")
      expect(Object.keys(seen.at(-1)!).some((name) => name.toLowerCase().startsWith("x-mcp-cred-"))).toBe(false)
      expect(JSON.stringify(result)).not.toContain(canary)
    })
  }

  it("a handler that returns nothing (plain or Effect) type-checks and answers an empty result", async () => {
    const server = new McpServer({ name: "void", version: "1" })
    const creds = McpCredentials.install(server, { layer })
    creds.registerTool("plain_void", { description: "returns nothing" }, async () => {})
    creds.registerTool("effect_void", { description: "returns nothing" }, () => Effect.log("did it"))
    const client = new Client({ name: "c", version: "1" })
    await connectInMemory(server, client)
    for (const name of ["plain_void", "effect_void"]) expect((await client.callTool({ name })).content, name).toEqual([])
  })
})

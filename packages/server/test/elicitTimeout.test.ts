/**
 * `ToolContext.elicit(params, { timeout })` against a real v1 client in memory: the client is
 * given that long to answer; an infinite one, or one past what a Node timer holds (~24.8 days),
 * waits as long as it takes instead of timing out at once.
 */
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, ToolContext } from "../src/index.js"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { CallToolResultSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { Duration, Effect } from "effect"
import { describe, expect, it } from "vitest"

const layer = CredentialBackend.layerTest(ResolvedCredential.StaticCredential.fromFields({ apiKey: "k-0123456789" }))

const run = async (timeout: Duration.DurationInput) => {
  const server = new McpServer({ name: "e", version: "1" })
  const creds = McpCredentials.install(server, { layer })
  creds.registerTool("ask", { description: "asks" }, () =>
    Effect.flatMap(ToolContext.ToolContext, (ctx) =>
      ctx.elicit({ mode: "form", message: "name?", requestedSchema: { type: "object", properties: { n: { type: "string" } } } }, { timeout })
    ).pipe(
      Effect.map((r) => `answer:${r.action}`),
      Effect.catchAll((e) => Effect.succeed(`error:${e.message}`))
    ))
  const client = new Client({ name: "c", version: "1" }, { capabilities: { elicitation: { form: {} } } })
  client.setRequestHandler(ElicitRequestSchema, async () => {
    await new Promise((r) => setTimeout(r, 300)) // the user answers after 300 ms
    return { action: "accept", content: { n: "x" } }
  })
  const [a, b] = InMemoryTransport.createLinkedPair()
  await server.connect(b)
  await client.connect(a)
  try {
    const started = Date.now()
    const r = await client.callTool({ name: "ask" }, CallToolResultSchema)
    return { text: (r.content as any)[0].text as string, took: Date.now() - started }
  } finally {
    await client.close()
    await server.close()
  }
}

describe("ToolContext.elicit: its timeout option", () => {
  it("a finite timeout waits for the user, and one shorter than the user ends the request", async () => {
    expect((await run("10 seconds")).text).toBe("answer:accept")
    expect((await run("100 millis")).text).toMatch(/^error:.*timed out/i)
  })
  it("fix: Duration.infinity waits as long as it takes (it timed out at once)", async () => {
    const r = await run(Duration.infinity)
    expect(r.text).toBe("answer:accept")
  })
  it("fix: 30 days (past 2^31 - 1 ms) waits too (it timed out at once)", async () => {
    const r = await run("30 days")
    expect(r.text).toBe("answer:accept")
  })
})

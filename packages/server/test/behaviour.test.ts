import { describe, expect, it } from "vitest"
import { CredentialBackend, CredentialError, CurrentCredential, EnvCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { ElicitRequestSchema, LoggingMessageNotificationSchema, McpError } from "@modelcontextprotocol/sdk/types.js"
import { ConfigProvider, Effect, Either, Layer, Logger, Redacted } from "effect"
import { z } from "zod"
import { getCredentials, McpCredentials, ToolContext, ToolError } from "../src/index.js"
import { textOf } from "./helpers.js"

const KEY = "sk-behaviour-0001"
const backend = CredentialBackend.layerTest(ResolvedCredential.StaticCredential.fromFields({ apiKey: KEY }))

const pair = async (server: McpServer) => {
  const [clientT, serverT] = InMemoryTransport.createLinkedPair()
  await server.connect(serverT)
  const client = new Client({ name: "t", version: "1" })
  await client.connect(clientT)
  return client
}

/** Captures Effect log lines. */
const captureLogs = () => {
  const lines: Array<string> = []
  const layer = Logger.replace(Logger.defaultLogger, Logger.make((o) => lines.push(Logger.logfmtLogger.log(o))))
  return { lines, layer }
}

describe("interception", () => {
  it("intercepts tools registered before and after install, and with the tools capability declared up front", async () => {
    for (const order of ["before", "after", "capability"] as const) {
      const server = new McpServer({ name: "s", version: "1" }, order === "capability" ? { capabilities: { tools: {} } } : {})
      const tool = async () => ({ content: [{ type: "text" as const, text: `key=${Redacted.value((getCredentials() as ResolvedCredential.StaticCredential).fields.apiKey!)}` }] })
      if (order === "before") server.registerTool("t", { description: "x" }, tool)
      McpCredentials.install(server, { layer: backend, tools: { t: "static" } })
      if (order !== "before") server.registerTool("t", { description: "x" }, tool)
      const client = await pair(server)
      expect(textOf(await client.callTool({ name: "t" })), order).toBe("key=[redacted]")
      await client.close()
    }
  })

  it("other requests pass untouched; installing twice returns the first installation", async () => {
    const server = new McpServer({ name: "s", version: "1" })
    const a = McpCredentials.install(server, { layer: backend })
    expect(McpCredentials.install(server, { layer: backend })).toBe(a)
    a.registerTool("t", { description: "d", credentials: "static" }, () => "ok")
    server.registerResource("r", "mem://r", {}, async () => ({ contents: [{ uri: "mem://r", text: "resource" }] }))
    const client = await pair(server)
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["t"])
    expect((await client.readResource({ uri: "mem://r" })).contents[0]).toMatchObject({ text: "resource" })
    await client.close()
  })

  it("a tool without a declaration never triggers resolution, even when the backend would fail", async () => {
    let calls = 0
    const failing = Layer.succeed(CredentialBackend.CredentialBackend, {
      resolve: () => Effect.suspend(() => (calls++, Effect.die("must not be called")))
    })
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: failing })
    creds.registerTool("free", { description: "d" }, () => "free")
    const client = await pair(server)
    expect(textOf(await client.callTool({ name: "free" }))).toBe("free")
    expect(calls).toBe(0)
    await client.close()
  })

  it("the runtime built from the layer is disposed when the server closes", async () => {
    let released = false
    const layer = Layer.scopedDiscard(Effect.addFinalizer(() => Effect.sync(() => (released = true))))
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer })
    creds.registerTool("t", { description: "d" }, () => Effect.succeed("ok")) // an Effect tool builds the runtime
    const client = await pair(server)
    await client.callTool({ name: "t" })
    expect(released).toBe(false)
    await server.close()
    await new Promise((r) => setTimeout(r, 10))
    expect(released).toBe(true)
  })
})

describe("tools", () => {
  it("Effect tool with input and output schemas, typed credential, plain value output", async () => {
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: backend })
    creds.registerTool(
      "sum",
      { description: "d", inputSchema: { a: z.number(), b: z.number() }, outputSchema: { sum: z.number(), keyLength: z.number() }, credentials: "static" },
      ({ a, b }) =>
        Effect.gen(function*() {
          const c = yield* CurrentCredential.getStatic()
          return { sum: a + b, keyLength: Redacted.value(c.fields.apiKey!).length }
        })
    )
    const client = await pair(server)
    const r = await client.callTool({ name: "sum", arguments: { a: 2, b: 3 } })
    expect(r.structuredContent).toEqual({ sum: 5, keyLength: KEY.length })
    const bad = await client.callTool({ name: "sum", arguments: { a: "x" } })
    expect(bad.isError).toBe(true)
    await client.close()
  })

  it("plain async tool: getCredentials() works after awaits and fails once the call has ended", async () => {
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: backend })
    let later: Promise<unknown> = Promise.resolve()
    creds.registerTool("plain", { description: "d", credentials: "static" }, async () => {
      await new Promise((r) => setTimeout(r, 2))
      const field = McpCredentials.getField("apiKey")
      later = new Promise((resolve) => setTimeout(() => {
        try {
          resolve(getCredentials())
        } catch (e) {
          resolve(e)
        }
      }, 20))
      return `length ${field.length}`
    })
    const client = await pair(server)
    expect(textOf(await client.callTool({ name: "plain" }))).toBe(`length ${KEY.length}`)
    const after = await later
    expect((after as Error).message).toMatch(/No credential has been resolved/)
    await client.close()
  })

  it("ToolError reaches the client (scrubbed); an unexpected failure is generic with a correlation id and logged without secrets", async () => {
    const logs = captureLogs()
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: Layer.merge(backend, logs.layer) })
    creds.registerTool("expected", { description: "d", credentials: "static" }, () =>
      Effect.fail(new ToolError.ToolError({ message: `upstream refused key ${KEY}` })))
    creds.registerTool("thrown", { description: "d", credentials: "static" }, async () => {
      throw new Error(`boom with ${KEY}`)
    })
    creds.registerTool("defect", { description: "d", credentials: "static" }, () => Effect.die(new Error(`defect ${KEY}`)))
    const client = await pair(server)
    const expected = await client.callTool({ name: "expected" })
    expect(expected.isError).toBe(true)
    expect(textOf(expected)).toBe("upstream refused key [redacted]")
    for (const name of ["thrown", "defect"]) {
      const r = await client.callTool({ name })
      expect(r.isError).toBe(true)
      const m = /correlation id ([0-9a-f-]{36})/.exec(textOf(r))
      expect(m, textOf(r)).not.toBeNull()
      expect(logs.lines.some((l) => l.includes(m![1]!) && l.includes("level=ERROR"))).toBe(true)
    }
    expect(logs.lines.join("\n")).not.toContain(KEY)
    await client.close()
  })

  it("credential errors are isError results naming what is missing, never a value", async () => {
    const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["APP_FIELDS", '{"apiKey": {"nested": "sk-nested-secret-99"}}']])))
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: EnvCredentialBackend.layer({ prefix: "APP_" }).pipe(Layer.provide(env)) })
    creds.registerTool("t", { description: "d", credentials: "static" }, () => "never")
    const client = await pair(server)
    const r = await client.callTool({ name: "t" })
    expect(r.isError).toBe(true)
    expect(textOf(r)).toContain("APP_FIELDS")
    expect(textOf(r)).toContain('"apiKey"')
    expect(textOf(r)).not.toContain("sk-nested-secret-99")
    await client.close()
  })

  it("errors: \"jsonrpc\" surfaces failures as JSON-RPC errors", async () => {
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer: CredentialBackend.layerFromMode().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map())))), errors: "jsonrpc" })
    creds.registerTool("needs", { description: "d", credentials: "oauth" }, () => "never")
    creds.registerTool("fails", { description: "d" }, () => Effect.fail(new ToolError.ToolError({ message: "nope" })))
    creds.registerTool("ok", { description: "d" }, () => "fine")
    const client = await pair(server)
    const e1 = await client.callTool({ name: "needs" }).then(() => undefined, (e) => e)
    expect(e1).toBeInstanceOf(McpError)
    expect(e1.code).toBe(-32001)
    expect(e1.message).toContain("ACCESS_TOKEN")
    const e2 = await client.callTool({ name: "fails" }).then(() => undefined, (e) => e)
    expect(e2.code).toBe(-32002)
    expect(e2.message).toContain("nope")
    expect(textOf(await client.callTool({ name: "ok" }))).toBe("fine")
    await client.close()
  })
})

describe("ToolContext in Effect tools", () => {
  it("gives request id, session, progress, logging and elicitation on the call's own stream", async () => {
    const server = new McpServer({ name: "s", version: "1" }, { capabilities: { logging: {} } })
    const creds = McpCredentials.install(server, { layer: backend })
    creds.registerTool("ctx", { description: "d", credentials: "static" }, () =>
      Effect.gen(function*() {
        const ctx = yield* ToolContext.ToolContext
        yield* ctx.progress(1, { total: 2, message: "half" })
        yield* ctx.log("info", "hello from the tool")
        const answer = yield* ctx.elicit({ mode: "form", message: "Name?", requestedSchema: { type: "object", properties: { name: { type: "string" } } } })
        return { requestId: String(ctx.requestId), tool: ctx.toolName, action: answer.action, name: String(answer.content?.name) }
      }))
    const [clientT, serverT] = InMemoryTransport.createLinkedPair()
    await server.connect(serverT)
    const client = new Client({ name: "t", version: "1" }, { capabilities: { elicitation: { form: {} } } })
    const logs: Array<unknown> = []
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data))
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "accept", content: { name: "Ada" } }))
    await client.connect(clientT)
    const progress: Array<number> = []
    const r = await client.callTool({ name: "ctx" }, undefined, { onprogress: (p) => void progress.push(p.progress) })
    expect(r.structuredContent).toMatchObject({ tool: "ctx", action: "accept", name: "Ada" })
    expect(progress).toEqual([1])
    expect(logs).toEqual(["hello from the tool"])
    await client.close()
  })
})

describe("synchronous resolution (CredentialBackend.unsafeResolve)", () => {
  /** A backend that answers on both paths and counts which one each call took. */
  const counting = (sync: (n: number) => "right" | "left" | "throw" | "none") => {
    const counts = { effect: 0, sync: 0 }
    const credential = ResolvedCredential.StaticCredential.fromFields({ apiKey: KEY })
    const layer = Layer.succeed(CredentialBackend.CredentialBackend, {
      resolve: () => Effect.sync(() => (counts.effect++, credential)),
      unsafeResolve: () => {
        const outcome = sync(++counts.sync)
        if (outcome === "throw") throw new Error("defect in unsafeResolve")
        if (outcome === "none") return undefined
        return outcome === "right"
          ? Either.right(credential)
          : Either.left(new CredentialError.MissingCredentialError({ kind: "static", variables: ["SYNC_ONLY"] }))
      }
    })
    return { counts, layer }
  }

  const serve = async (layer: Layer.Layer<CredentialBackend.CredentialBackend>) => {
    const server = new McpServer({ name: "s", version: "1" })
    const creds = McpCredentials.install(server, { layer })
    creds.registerTool("t", { description: "d", credentials: "static" }, async () => `length ${McpCredentials.getField("apiKey").length}`)
    return pair(server)
  }

  it("once the runtime is built, calls resolve without a fiber; the first call builds it through resolve", async () => {
    const { counts, layer } = counting(() => "right")
    const client = await serve(layer)
    for (let i = 0; i < 5; i++) expect(textOf(await client.callTool({ name: "t" }))).toBe(`length ${KEY.length}`)
    expect(counts).toEqual({ effect: 1, sync: 4 })
    await client.close()
  })

  it("a backend that cannot answer synchronously, fails there or throws is run through resolve, whose outcome counts", async () => {
    const { counts, layer } = counting((n) => (n === 1 ? "none" : n === 2 ? "left" : "throw"))
    const client = await serve(layer)
    for (let i = 0; i < 4; i++) expect(textOf(await client.callTool({ name: "t" }))).toBe(`length ${KEY.length}`)
    expect(counts).toEqual({ effect: 4, sync: 3 })
    await client.close()
  })

  it("Env backend with the runtime's own ConfigProvider (not process.env): resolved through Effect Config", async () => {
    const layer = EnvCredentialBackend.layer({ prefix: "SYNCCP_" }).pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["SYNCCP_FIELD_apiKey", KEY]]))))
    )
    const client = await serve(layer)
    for (let i = 0; i < 3; i++) expect(textOf(await client.callTool({ name: "t" }))).toBe(`length ${KEY.length}`)
    await client.close()
  })

  it("Env backend on process.env: a rotated value is used by the next call", async () => {
    const name = `SYNCROT_${process.pid}_FIELD_apiKey`
    process.env[name] = "first-value"
    try {
      const server = new McpServer({ name: "s", version: "1" })
      const creds = McpCredentials.install(server, { layer: EnvCredentialBackend.layer({ prefix: `SYNCROT_${process.pid}_` }) })
      creds.registerTool("t", { description: "d", credentials: "static" }, async () => McpCredentials.getField("apiKey").slice(0, 3))
      const client = await pair(server)
      expect(textOf(await client.callTool({ name: "t" }))).toBe("fir")
      expect(textOf(await client.callTool({ name: "t" }))).toBe("fir")
      process.env[name] = "second-value"
      expect(textOf(await client.callTool({ name: "t" }))).toBe("sec")
      await client.close()
    } finally {
      delete process.env[name]
    }
  })
})

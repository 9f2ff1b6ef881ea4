/**
 * plain-async: credentials in plain `async` tool code, no Effect in the tools, served on a
 * `node:http` server.
 *
 * Shows: `McpHttpServer.toNodeHandler` gives a `(req, res)` handler for `node:http` (or Express);
 * `McpCredentials.install(server, { runtime, tools })` runs every tool call with its credential in
 * scope. Tool code reads it synchronously, even after `await`s:
 *   - `McpCredentials.getField("apiKey")`: the plain value of a static field, where it leaves the process;
 *   - `getCredentials()`: the whole credential (the Python library's `get_credentials()`), here in
 *     a tool registered with the SDK's own `server.registerTool` and declared in `install`'s `tools`.
 * A thrown `ToolError` is shown to the client; outside a tool call, `getCredentials()` throws.
 * Effect appears once, to build the runtime holding the Env backend (`TASKS_FIELD_apiKey`).
 *
 * Run:  npm run example:plain-async
 *       node examples/dist/plain-async/server.js --serve   (keeps serving; PORT=3006 to pick the port)
 */
import { type CredentialBackend, EnvCredentialBackend } from "@mcp-credentials/core"
import { getCredentials, McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { z } from "zod"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

/** DEMO VALUES ONLY. */
const demo = { apiKey: "sk-demo-tasks-0d9b6e3f", revokedKey: "sk-demo-tasks-revoked-51aa" }
Example.demoDefault("TASKS_FIELD_apiKey", demo.apiKey)

/** A downstream call from plain code: the key is unwrapped here, in the header, and nowhere else. */
const callTasksApi = async (url: string, apiKey: string, init: { method?: string; body?: unknown } = {}) => {
  const response = await fetch(url, {
    method: init.method ?? "GET",
    headers: { "x-api-key": apiKey, "content-type": "application/json" },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {})
  })
  const body = (await response.json()) as Record<string, unknown>
  if (!response.ok) {
    // passes the downstream's answer on; if it echoes the key, the server scrubs it
    throw new ToolError.ToolError({ message: `The Tasks API answered ${response.status}: ${JSON.stringify(body)}` })
  }
  return body
}

const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<CredentialBackend.CredentialBackend>) => {
  const server = new McpServer({ name: "plain-async-example", version: "0.1.0" })

  // a tool registered with the SDK itself; its credential is declared in `install` below
  server.registerTool(
    "create_task",
    { description: "Creates a task (SDK registerTool + getCredentials()).", inputSchema: { title: z.string() } },
    async ({ title }) => {
      await new Promise((resolve) => setTimeout(resolve, 5)) // the credential survives awaits
      const credential = getCredentials()
      if (credential.type !== "static" || credential.fields.apiKey === undefined) {
        throw new ToolError.ToolError({ message: "Expected a static credential with an apiKey." })
      }
      const body = await callTasksApi(`${apiUrl}/tasks`, Redacted.value(credential.fields.apiKey), {
        method: "POST",
        body: { title }
      })
      return { content: [{ type: "text" as const, text: `created "${title}" for ${String(body.user)}` }] }
    }
  )

  const tools = McpCredentials.install(server, { runtime, tools: { create_task: "static" } })

  tools.registerTool(
    "list_tasks",
    {
      description: "The account's tasks (plain async + McpCredentials.getField).",
      inputSchema: { status: z.enum(["open", "done"]).optional() },
      credentials: "static"
    },
    async ({ status }) => {
      const apiKey = McpCredentials.getField("apiKey")
      const body = await callTasksApi(`${apiUrl}/tasks?status=${status ?? "open"}`, apiKey)
      return { account: body.user, tasks: body.items }
    }
  )

  tools.registerTool("ping", { description: "Needs no credential." }, async () => "pong")
  return server
}

const main = async (): Promise<void> => {
  const api = await FakeApi.start({
    name: "tasks-api",
    accept: { [demo.apiKey]: "grace" },
    respond: ({ method, body, query }) =>
      method === "POST" ? { created: body } : { items: [`(${query.get("status")}) write the report`, `(${query.get("status")}) review PR`] }
  })

  // the only Effect here: a runtime holding the credential backend, shared by every session
  const managed = ManagedRuntime.make(Layer.merge(EnvCredentialBackend.layer({ prefix: "TASKS_" }), Example.logToStderr))
  const runtime = await managed.runtime()
  const mcp = await McpHttpServer.toNodeHandler({
    runtime,
    server: makeServer(api.url),
    allowedHosts: McpHttpServer.localhostNames // DNS-rebinding protection for a loopback bind
  })

  const http = createServer((req, res) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname === "/mcp") {
      mcp.handler(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end()
      })
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n")
    }
  })
  await new Promise<void>((resolve) => http.listen(Example.listenPort(3006), "127.0.0.1", resolve))
  const url = new URL(`http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`)
  const stop = async () => {
    await mcp.close()
    http.closeAllConnections()
    await new Promise((resolve) => http.close(resolve))
    await managed.dispose()
    await api.close()
  }

  if (Example.isServe) {
    console.log([`plain-async example on node:http (fake Tasks API on ${api.url})`, ...Example.connectHelp(url), "", "Serving. Press Ctrl-C to stop."].join("\n"))
    process.on("SIGINT", () => void stop().then(() => process.exit(0)))
    return
  }

  console.log(`plain-async on node:http: MCP server ${url.href}, fake Tasks API ${api.url}`)
  const client = await Example.connect(url)
  await Example.listTools(client)
  await Example.call(client, "ping")
  await Example.call(client, "list_tasks", { status: "open" })
  await Example.call(client, "create_task", { title: "Write the quarterly report" })

  Example.section("the key is rotated to one the Tasks API has revoked")
  process.env.TASKS_FIELD_apiKey = demo.revokedKey
  await Example.call(client, "list_tasks")
  Example.note("the thrown ToolError carried the API's echo of the key; the client got [redacted]")
  process.env.TASKS_FIELD_apiKey = demo.apiKey
  await client.close()

  Example.section("outside a tool call")
  try {
    getCredentials()
  } catch (e) {
    console.log(`getCredentials() throws: ${e instanceof Error ? e.message : String(e)}`)
  }
  await stop()
}

main().then(
  () => {
    if (!Example.isServe) process.exit(0)
  },
  (e) => {
    console.error(e)
    process.exit(1)
  }
)

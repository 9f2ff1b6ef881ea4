/**
 * static-env (stdio): the same server as http.ts, as a stdio MCP server (what Claude Desktop and
 * most local MCP clients launch).
 *
 * Shows: the Env backend works over stdio (there are no request headers there); the server owns
 * its runtime (`McpCredentials.install(server, { layer })`) and nothing but the protocol is written
 * to stdout: Effect logs and the fake API's lines go to stderr.
 *
 * Run:  npm run example:static-env-stdio   (spawns itself with --serve as a real stdio server through
 *                                           the SDK's StdioClientTransport, runs a session, exits)
 *       node examples/dist/static-env/stdio.js --serve   (the stdio server itself, for an MCP client:
 *         { "command": "node", "args": ["<repo>/examples/dist/static-env/stdio.js", "--serve"],
 *           "env": { "WEATHER_FIELD_apiKey": "<your key>" } })
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { getDefaultEnvironment, StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js"
import * as Layer from "effect/Layer"
import { fileURLToPath } from "node:url"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"
import * as Weather from "./tools.js"

const serve = async (): Promise<void> => {
  // stdout belongs to the protocol: anything printed with console.log goes to stderr instead
  console.log = console.error
  Example.demoDefault(`${Weather.prefix}FIELD_apiKey`, Weather.demoApiKey)
  const api = await FakeApi.start(Weather.weatherApi)
  const server = Weather.makeServer(api.url, { layer: Layer.merge(Weather.layer, Example.logToStderr) })
  const transport = new StdioServerTransport()
  let closing = false
  const shutdown = async () => {
    if (closing) return
    closing = true
    await server.close().catch(() => undefined) // also disposes the runtime built from `layer`
    await api.close()
    process.exit(0)
  }
  // the SDK's stdio server transport does not end when its client closes stdin; this one does
  process.stdin.on("end", () => void shutdown())
  process.on("SIGINT", () => void shutdown())
  process.on("SIGTERM", () => void shutdown())
  await server.connect(transport)
  console.error(`static-env stdio server ready (fake Weather API on ${api.url})`)
}

const session = async (): Promise<void> => {
  const credentials: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith(Weather.prefix) && v !== undefined) credentials[k] = v
  }
  if (Object.keys(credentials).length === 0) credentials[`${Weather.prefix}FIELD_apiKey`] = Weather.demoApiKey
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [fileURLToPath(import.meta.url), "--serve"],
    // a stdio client passes only a few safe variables by default: the credential is given explicitly
    env: { ...getDefaultEnvironment(), ...credentials },
    stderr: "inherit"
  })
  const client = new Client({ name: "example-stdio-client", version: "0.1.0" })
  await client.connect(transport)
  console.log(`static-env over stdio: spawned ${process.execPath} ${fileURLToPath(import.meta.url)} --serve`)
  await Example.listTools(client)
  await Example.call(client, "list_cities")
  await Example.call(client, "get_forecast", { city: "Nairobi" })
  await client.close()
  console.log("\nTo use it from an MCP client (e.g. Claude Desktop), configure:")
  console.log(JSON.stringify({
    command: "node",
    args: [fileURLToPath(import.meta.url), "--serve"],
    env: { [`${Weather.prefix}FIELD_apiKey`]: "<your key>" }
  }, null, 2))
}

if (Example.isServe) {
  serve().catch((e) => {
    console.error(e)
    process.exit(1)
  })
} else {
  session().then(() => process.exit(0), (e) => {
    console.error(e)
    process.exit(1)
  })
}

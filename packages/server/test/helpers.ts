import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { Effect, Exit, Layer, Scope } from "effect"
import { createServer } from "node:http"
import { McpHttpServer } from "../src/index.js"

/** Starts `McpHttpServer` on a random loopback port with the given application layer. */
export const startHttp = async <R>(
  options: McpHttpServer.Options<R>,
  appLayer: Layer.Layer<R, never, never>
): Promise<{ readonly url: URL; readonly close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const server = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })
  const live = McpHttpServer.serve({ allowedHosts: McpHttpServer.localhostNames, ...options }).pipe(
    Layer.provideMerge(server),
    Layer.provide(appLayer)
  )
  const ctx = await Effect.runPromise(Layer.buildWithScope(live, scope))
  const address = (await Effect.runPromise(Effect.provide(HttpServer.HttpServer, ctx))).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return {
    url: new URL(`http://127.0.0.1:${address.port}${options.path ?? "/mcp"}`),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** A real MCP client over Streamable HTTP, recording every message in both directions. */
export const connect = async (
  url: URL,
  headers: Record<string, string> = {},
  record?: Array<string>
): Promise<Client> => {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } })
  const client = new Client({ name: "test-client", version: "1.0.0" })
  await client.connect(record ? recording(transport, record) : transport)
  return client
}

/** Every JSON-RPC message in both directions, appended to a log (the examples' own helper). */
export { recording } from "../../../examples/shared/example.js"
import { recording } from "../../../examples/shared/example.js"

/** The text of a tool result's first content item. */
export const textOf = (result: unknown): string => {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? []
  return content.map((c) => c.text ?? "").join("\n")
}

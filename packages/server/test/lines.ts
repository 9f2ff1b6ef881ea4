/**
 * The two SDK lines behind one interface, so one suite runs on both: v1
 * (`@modelcontextprotocol/sdk`, `McpCredentials`, `McpHttpServer`) and v2
 * (`@modelcontextprotocol/server` + `@modelcontextprotocol/client` pinned to 2026-07-28,
 * `McpCredentialsV2`, `McpHttpServerV2`). Servers run on a random loopback port; clients are the
 * real SDK clients over real HTTP, recording every JSON-RPC body they send and receive.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport as TransportV1 } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer as McpServerV1, ResourceTemplate as ResourceTemplateV1 } from "@modelcontextprotocol/sdk/server/mcp.js"
import { McpServer as McpServerV2, ResourceTemplate as ResourceTemplateV2 } from "@modelcontextprotocol/server"
import type { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { Effect, Exit, Layer, Redacted, type Runtime, Scope } from "effect"
import { getCredentials, McpCredentials, McpCredentialsV2, McpHttpServer, McpHttpServerV2 } from "../src/index.js"

export type LineName = "v1" | "v2"

/** What the suite needs of an installation: the same `registerTool` on both lines. */
export interface AnyInstalled {
  readonly registerTool: (name: string, config: any, handler: any) => unknown
  readonly declare: (toolName: string, declaration: any) => void
}

export interface CallOptions {
  readonly signal?: AbortSignal
  readonly onprogress?: (progress: { progress: number }) => void
}

export interface ClientLike {
  readonly callTool: (params: { name: string; arguments?: Record<string, unknown> }, options?: CallOptions) => Promise<any>
  readonly readResource: (uri: string) => Promise<any>
  readonly listTools: () => Promise<any>
  readonly close: () => Promise<void>
  /** `"modern"` (2026-07-28) or `"legacy"` (2025 `initialize`). */
  readonly era: () => string | undefined
  /** The line's own client (prompts, resources, completions: the same method names on both lines). */
  readonly raw: any
}

export interface ServeOptions {
  readonly authenticate?: (request: Request) => Effect.Effect<any, never, any>
  readonly insufficientScope?: (missing: ReadonlyArray<string>, request: Request) => Response
  /** More routes beside `/mcp` (well-known documents). */
  readonly routes?: unknown
  /** Default: the loopback names. */
  readonly allowedHosts?: ReadonlyArray<string> | "any"
  readonly allowedOrigins?: ReadonlyArray<string>
  readonly cors?: boolean
  readonly credentialHeaderPrefixes?: ReadonlyArray<string>
}

export interface Line {
  readonly name: LineName
  /** A new `McpServer` of this line. */
  readonly newServer: (options?: Record<string, unknown>) => any
  readonly install: (server: any, options: McpCredentials.Options<any, any>) => AnyInstalled
  /** Serves `build` (one server per session on v1, per request on v2) with `layer`. */
  readonly start: (
    build: (runtime: Runtime.Runtime<any>) => any,
    layer: Layer.Layer<any, never, never>,
    options?: ServeOptions
  ) => Promise<{ readonly url: URL; readonly close: () => Promise<void> }>
  readonly connect: (url: URL, headers?: Record<string, string>, record?: Array<string>) => Promise<ClientLike>
  /** The line's plain Node `(req, res)` handler. */
  readonly toNodeHandler: (
    build: (runtime: Runtime.Runtime<any>) => any,
    runtime: Runtime.Runtime<any>
  ) => Promise<{ readonly handler: (req: any, res: any) => Promise<void>; readonly close: () => Promise<void> }>
  /** The line's `McpHttpServer.layer` (a Node server bound to `host:port`). */
  readonly layer: (
    options: {
      readonly server: (runtime: Runtime.Runtime<any>) => any
      readonly port: number
      readonly host?: string
      readonly allowedHosts?: ReadonlyArray<string> | "any"
      readonly allowedOrigins?: ReadonlyArray<string>
    }
  ) => Layer.Layer<never, unknown, CredentialBackend.CredentialBackend>
  /** The code a `ToolError` arrives with in `errors: "jsonrpc"` mode (the v2 SDK rewrites -32002). */
  readonly toolErrorCode: number
  /** The line's `ResourceTemplate`. */
  readonly resourceTemplate: (uriTemplate: string, callbacks: { readonly list: any; readonly complete?: any }) => unknown
}

/**
 * A fetch that records every JSON-RPC body: what the client posts and what the server answers
 * (JSON or SSE). Long-lived GET streams are not recorded.
 */
export const recordingFetch = (record?: Array<string>) => async (input: any, init?: RequestInit): Promise<Response> => {
  if (record !== undefined && typeof init?.body === "string") record.push(init.body)
  const res = await fetch(input, init)
  if (record !== undefined && (init?.method ?? "GET") === "POST" && res.body !== null) {
    const copy = res.clone()
    pendingRecords.push(copy.text().then((text) => void record.push(text), () => undefined))
  }
  return res
}
const pendingRecords: Array<Promise<void>> = []
/** Waits until every recorded response body has been read. */
export const flushRecords = () => Promise.all(pendingRecords.splice(0))

const startWith = async (
  serve: (options: any) => Layer.Layer<never, never, any>,
  options: Record<string, unknown>,
  layer: Layer.Layer<any, never, never>
) => {
  const scope = Effect.runSync(Scope.make())
  const live = serve(options).pipe(
    Layer.provideMerge(NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(layer)
  )
  const ctx = await Effect.runPromise(Layer.buildWithScope(live, scope))
  const address = (await Effect.runPromise(Effect.provide(HttpServer.HttpServer, ctx) as Effect.Effect<HttpServer.HttpServer>)).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return {
    url: new URL(`http://127.0.0.1:${address.port}/mcp`),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

export const v1: Line = {
  name: "v1",
  newServer: (options) => new McpServerV1({ name: "line-v1", version: "1.0.0" }, options as any),
  install: (server, options) => McpCredentials.install(server, options) as unknown as AnyInstalled,
  start: (build, layer, options = {}) =>
    startWith(McpHttpServer.serve as any, { server: build, allowedHosts: McpHttpServer.localhostNames, ...options }, layer),
  connect: async (url, headers = {}, record) => {
    const client = new ClientV1({ name: "line-client", version: "1.0.0" })
    await client.connect(new TransportV1(url, { requestInit: { headers }, fetch: recordingFetch(record) }))
    return {
      callTool: (params, options) => client.callTool(params, undefined, options as any),
      readResource: (uri) => client.readResource({ uri }),
      listTools: () => client.listTools(),
      close: () => client.close(),
      era: () => "legacy",
      raw: client
    }
  },
  toNodeHandler: (build, runtime) => McpHttpServer.toNodeHandler({ server: build, runtime }),
  layer: (options) => McpHttpServer.layer(options as any) as any,
  toolErrorCode: -32002,
  resourceTemplate: (uriTemplate, callbacks) => new ResourceTemplateV1(uriTemplate, callbacks)
}

export const v2: Line = {
  name: "v2",
  newServer: (options) => new McpServerV2({ name: "line-v2", version: "1.0.0" }, options as any),
  install: (server, options) => McpCredentialsV2.install(server, options) as unknown as AnyInstalled,
  start: (build, layer, options = {}) =>
    startWith(McpHttpServerV2.serve as any, { server: build, allowedHosts: McpHttpServerV2.localhostNames, ...options }, layer),
  connect: async (url, headers = {}, record) => {
    const client = new ClientV2(
      { name: "line-client", version: "1.0.0" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } }
    )
    await client.connect(new TransportV2(url, { requestInit: { headers }, fetch: recordingFetch(record) }))
    return {
      callTool: (params, options) => client.callTool(params, options as any),
      readResource: (uri) => client.readResource({ uri }),
      listTools: () => client.listTools(),
      close: () => client.close(),
      era: () => client.getProtocolEra(),
      raw: client
    }
  },
  toNodeHandler: (build, runtime) => McpHttpServerV2.toNodeHandler({ server: build, runtime }),
  layer: (options) => McpHttpServerV2.layer(options as any) as any,
  toolErrorCode: -32602,
  resourceTemplate: (uriTemplate, callbacks) => new ResourceTemplateV2(uriTemplate, callbacks)
}

export const lines: ReadonlyArray<Line> = [v1, v2]

/** A server of `line` with one tool, `key_length`, that declares a static credential and says how long its `apiKey` is. */
export const keyLengthServer = (line: Line) => (runtime: Runtime.Runtime<any>) => {
  const server = line.newServer()
  line.install(server, { runtime }).registerTool("key_length", { description: "d", credentials: "static" }, () => {
    const c = getCredentials() as ResolvedCredential.StaticCredential
    return `length ${Redacted.value(c.fields.apiKey!).length}`
  })
  return server
}

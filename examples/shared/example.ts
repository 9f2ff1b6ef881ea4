/**
 * Plumbing shared by the examples: serve an MCP server layer on a random loopback port, connect a
 * real MCP `Client` to it, print a transcript, keep serving with `--serve`, and exit.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { FetchLike, Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as Scope from "effect/Scope"

/** `--serve`: keep the server running instead of the scripted session. */
export const isServe: boolean = process.argv.includes("--serve")

/** The port to listen on: `PORT` (or `fallback`) with `--serve`, a random one for the scripted session. */
export const listenPort = (fallback = 0): number => (isServe ? Number(process.env.PORT ?? fallback) : 0)

/**
 * Sets an environment variable to a DEMO value unless it is already set, so the example runs as it
 * is and still reads your own value when you give one.
 */
export const demoDefault = (name: string, value: string): void => {
  if (process.env[name] === undefined || process.env[name] === "") process.env[name] = value
}

/** Effect logs as logfmt lines on stderr: stdout is the transcript (or, over stdio, the protocol). */
export const logToStderr: Layer.Layer<never> = Logger.replace(
  Logger.defaultLogger,
  Logger.withConsoleError(Logger.logfmtLogger)
)

/**
 * Builds an MCP HTTP server layer (e.g. `McpHttpServer.layer`) in the current scope and returns the
 * URL of its MCP endpoint.
 */
export const serveHttp = <E, R>(
  layer: Layer.Layer<HttpServer.HttpServer, E, R>,
  path = "/mcp"
): Effect.Effect<URL, E, R | Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(layer)
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return new URL(`http://${address.hostname}:${address.port}${path}`)
  })

/** Connects a real MCP client over Streamable HTTP. */
export const connect = async (
  url: URL,
  options: {
    /** Extra HTTP headers on every request. */
    readonly headers?: Record<string, string> | undefined
    /** A fetch that rewrites requests (a gateway). */
    readonly fetch?: FetchLike | undefined
    /** Every JSON-RPC message in both directions is appended here. */
    readonly record?: Array<string> | undefined
    readonly name?: string | undefined
  } = {}
): Promise<Client> => {
  const transport = new StreamableHTTPClientTransport(url, {
    ...(options.headers !== undefined ? { requestInit: { headers: options.headers } } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {})
  })
  const client = new Client({ name: options.name ?? "example-client", version: "0.1.0" })
  await client.connect(options.record !== undefined ? recording(transport, options.record) : transport)
  return client
}

/** Wraps a transport so every JSON-RPC message sent or received is appended to `log`. */
export const recording = (inner: Transport, log: Array<string>): Transport => {
  const outer: Transport = {
    start: () => inner.start(),
    close: () => inner.close(),
    send: (message: JSONRPCMessage, options) => {
      log.push(JSON.stringify(message))
      return inner.send(message, options)
    },
    get sessionId() {
      return inner.sessionId
    },
    setProtocolVersion: (version: string) => inner.setProtocolVersion?.(version)
  }
  inner.onmessage = (message, extra) => {
    log.push(JSON.stringify(message))
    outer.onmessage?.(message, extra)
  }
  inner.onerror = (error) => outer.onerror?.(error)
  inner.onclose = () => outer.onclose?.()
  return outer
}

/** The text content of a tool result. */
export const textOf = (result: unknown): string => {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? []
  return content.map((c) => c.text ?? `[${c.type}]`).join("\n")
}

/** Prints a section title. */
export const section = (title: string): void => {
  console.log(`\n== ${title}`)
}

/** Prints a line of commentary. */
export const note = (text: string): void => {
  console.log(`   (${text})`)
}

/** Lists the server's tools and prints them. */
export const listTools = async (client: Client): Promise<ReadonlyArray<string>> => {
  const { tools } = await client.listTools()
  const names = tools.map((t) => t.name)
  console.log(`-> tools/list\n   <- ${names.join(", ")}`)
  return names
}

/** Calls a tool and prints `-> name args` then `<- result` (or `<- ERROR result`). */
export const call = async (
  client: Client,
  name: string,
  args?: Record<string, unknown>
): Promise<{ readonly text: string; readonly isError: boolean }> => {
  console.log(`-> ${name}${args !== undefined ? ` ${JSON.stringify(args)}` : ""}`)
  try {
    const result = await client.callTool({ name, ...(args !== undefined ? { arguments: args } : {}) })
    const text = textOf(result)
    const isError = result.isError === true
    console.log(`   <- ${isError ? "ERROR " : ""}${text.split("\n").join("\n      ")}`)
    return { text, isError }
  } catch (e) {
    const text = e instanceof Error ? e.message : String(e)
    console.log(`   <- JSON-RPC ERROR ${text}`)
    return { text, isError: true }
  }
}

/** How to connect to a running HTTP MCP server. */
export const connectHelp = (url: URL): ReadonlyArray<string> => [
  `MCP endpoint (Streamable HTTP): ${url.href}`,
  ``,
  `Connect with the MCP Inspector:`,
  `  npx @modelcontextprotocol/inspector`,
  `  then Transport Type "Streamable HTTP", URL ${url.href}, Connect, and open Tools.`,
  ``,
  `Or check it answers with curl:`,
  `  curl -s ${url.href} \\`,
  `    -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \\`,
  `    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"0"}}}'`
]

/** Prints `lines` and serves until Ctrl-C. */
export const keepServing = (lines: ReadonlyArray<string>): Effect.Effect<never> =>
  Effect.zipRight(Effect.sync(() => console.log([...lines, "", "Serving. Press Ctrl-C to stop."].join("\n"))), Effect.never)

/**
 * Runs an example's main effect in a scope that closes when it ends (servers stop). Ctrl-C
 * interrupts it. The process then exits: with the number it returns, 0 when it returns nothing,
 * 1 when it fails.
 */
export const run = <E>(program: Effect.Effect<number | void, E, Scope.Scope>): void =>
  NodeRuntime.runMain(Effect.scoped(program), {
    disablePrettyLogger: true,
    teardown: (exit) => {
      const code = Exit.isSuccess(exit)
        ? typeof exit.value === "number" ? exit.value : 0
        : Cause.isInterruptedOnly(exit.cause)
        ? 0
        : 1
      process.exit(code)
    }
  })

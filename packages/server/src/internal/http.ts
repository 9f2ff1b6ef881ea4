/**
 * HTTP helpers shared by `McpHttpServer` (v1) and `McpHttpServerV2`: Host/Origin checking
 * (DNS-rebinding protection), JSON-RPC error responses, a Node server that closes promptly.
 * SDK-neutral.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Readable } from "node:stream"

/** The host names of a loopback bind. */
export const localhostNames: ReadonlyArray<string> = ["localhost", "127.0.0.1", "[::1]"]

export const isLoopback = (host: string | undefined) =>
  host === undefined || host === "localhost" || host === "::1" || host === "[::1]" || host.startsWith("127.")

export const jsonRpcError = (status: number, message: string) =>
  new Response(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message }, id: null }), {
    status,
    headers: { "content-type": "application/json" }
  })

export const hostnameOf = (url: string): string => {
  try {
    return new URL(url).hostname.toLowerCase()
  } catch {
    return ""
  }
}

/** A check of `Host` and `Origin` against allowed host names (`undefined` or `"any"`: none). */
export const makeHostCheck = (allowedHosts: ReadonlyArray<string> | "any" | undefined) => {
  const allowed = allowedHosts === "any" || allowedHosts === undefined
    ? undefined
    : new Set(allowedHosts.map((h) => h.toLowerCase()))
  return (request: Request): Response | undefined => {
    if (allowed === undefined) return undefined
    const host = request.headers.get("host")
    if (host === null || !allowed.has(hostnameOf(`http://${host}`))) return jsonRpcError(403, "Host not allowed")
    const origin = request.headers.get("origin")
    if (origin !== null && !allowed.has(hostnameOf(origin))) return jsonRpcError(403, "Origin not allowed")
    return undefined
  }
}

/**
 * A Node server whose `close` also drops idle keep-alive connections: clients' fetch pools keep
 * sockets open, and a plain `close` waits for them for seconds.
 */
export const createClosingServer = () => {
  const server = createServer()
  const close = server.close.bind(server)
  server.close = ((callback?: (err?: Error) => void) => {
    const result = close(callback)
    server.closeAllConnections()
    return result
  }) as typeof server.close
  return server
}

/** A Node request as a web `Request`, aborted when the response closes. */
export const toWebRequest = (req: IncomingMessage, res: ServerResponse): Request => {
  const controller = new AbortController()
  res.on("close", () => controller.abort())
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`
  const headers = new Headers()
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue
    for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one)
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD"
  return new Request(url, {
    method: req.method ?? "GET",
    headers,
    signal: controller.signal,
    ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream, duplex: "half" } : {})
  } as RequestInit)
}

/** Writes a web `Response` to a Node response (streaming its body). */
export const writeWebResponse = (response: Response, res: ServerResponse): void => {
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()))
  if (response.body === null) {
    res.end()
    return
  }
  const body = Readable.fromWeb(response.body as any)
  body.on("error", () => res.destroy())
  body.pipe(res)
}

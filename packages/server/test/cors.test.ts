/**
 * CORS on the MCP endpoint (`cors: true`), on both SDK lines: the headers over plain HTTP, and a
 * web page in a real browser (Chromium through playwright-core) on another origin that
 * initializes and calls a tool with a credential header — which the browser allows only from the
 * origins the server names, and only with `cors` on.
 *
 * The browser part needs /usr/bin/chromium: skipped with a printed reason when absent, failed
 * instead when MCP_CREDENTIALS_REQUIRE_SERVICES=1.
 */
import { HeaderCredentialBackend } from "@mcp-credentials/core"
import { existsSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { type Browser, chromium } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { keyLengthServer, type Line, lines } from "./lines.js"

const CHROMIUM = "/usr/bin/chromium"
const required = process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1"
const available = existsSync(CHROMIUM)
if (!available) {
  if (required) {
    describe("cors in a browser", () => {
      it("chromium is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => {
        expect.fail(`${CHROMIUM} not found`)
      })
    })
  } else {
    console.log(`[server cors browser tests] skipped: ${CHROMIUM} not found (set MCP_CREDENTIALS_REQUIRE_SERVICES=1 to fail instead)`)
  }
}

const buildOn = keyLengthServer

const initializeBody = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "page", version: "1" } }
})

const preflight = (url: URL, origin: string) =>
  fetch(url, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "content-type, mcp-protocol-version, x-mcp-cred-fields"
    }
  })

const initialize = (url: URL, headers: Record<string, string>) =>
  fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    body: initializeBody
  })

const APP = "http://localhost:5173"

describe.each(lines)("CORS, $name line", (line) => {
  it("cors: preflights from an accepted origin get 204 with the requested headers; answers name the origin and expose the MCP headers", async () => {
    const http = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: [APP], cors: true })
    try {
      const ok = await preflight(http.url, APP)
      expect(ok.status).toBe(204)
      expect(ok.headers.get("access-control-allow-origin")).toBe(APP)
      expect(ok.headers.get("access-control-allow-methods")).toBe("GET, POST, DELETE")
      expect(ok.headers.get("access-control-allow-headers")).toBe("content-type, mcp-protocol-version, x-mcp-cred-fields")
      expect(ok.headers.get("access-control-allow-credentials")).toBeNull()
      expect(ok.headers.get("vary")).toContain("Origin")

      const refused = await preflight(http.url, "https://evil.example")
      expect(refused.status).toBe(403)
      expect(refused.headers.get("access-control-allow-origin")).toBeNull()

      const answered = await initialize(http.url, { origin: APP })
      expect(answered.status).toBe(200)
      expect(answered.headers.get("access-control-allow-origin")).toBe(APP)
      expect(answered.headers.get("access-control-expose-headers")).toContain("Mcp-Session-Id")
      expect(answered.headers.get("access-control-expose-headers")).toContain("WWW-Authenticate")
      await answered.body?.cancel()

      // no Origin (not a browser): nothing added
      const plain = await initialize(http.url, {})
      expect(plain.status).toBe(200)
      expect(plain.headers.get("access-control-allow-origin")).toBeNull()
      await plain.body?.cancel()
    } finally {
      await http.close()
    }
  })

  it("without cors: no CORS headers, a preflight is not answered with 204", async () => {
    const http = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: [APP] })
    try {
      const res = await preflight(http.url, APP)
      expect(res.status).not.toBe(204)
      expect(res.headers.get("access-control-allow-origin")).toBeNull()
      await res.body?.cancel()
    } finally {
      await http.close()
    }
  })

  it("cors with neither allowedOrigins nor allowedHosts fails when the handler is built, naming the option", async () => {
    const attempt = line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedHosts: "any", cors: true })
    const error = await attempt.then(() => undefined, (e: unknown) => e)
    expect(String(error)).toMatch(/cors: name the origins/)
  })
})

/** What the page does: initialize, then call a tool with a credential header; the tool's text. */
const pageScript = async ({ mcp, fields }: { mcp: string; fields: string }): Promise<string> => {
  const post = async (body: unknown, session: string | null) => {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      "mcp-protocol-version": "2025-06-18",
      "x-mcp-cred-fields": fields
    }
    if (session !== null) headers["mcp-session-id"] = session
    const res = await fetch(mcp, { method: "POST", headers, body: JSON.stringify(body) })
    const text = await res.text()
    const json = text.startsWith("{") ? text : (text.split("\n").find((l) => l.startsWith("data: ")) ?? "").slice(6)
    return { session: res.headers.get("mcp-session-id"), message: JSON.parse(json) }
  }
  const init = await post({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "page", version: "1" } }
  }, null)
  const call = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "key_length", arguments: {} } }, init.session)
  return `${init.session === null ? "no session" : "session"}: ${call.message.result.content[0].text}`
}

describe.skipIf(!available)("CORS in a browser (chromium)", () => {
  let browser: Browser
  let pages: Server
  let origin: string
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
    // the web app's own origin: another port than the MCP server's
    pages = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" })
      res.end("<!doctype html><title>web client</title>")
    })
    await new Promise<void>((resolve) => pages.listen(0, "127.0.0.1", resolve))
    origin = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`
  }, 60_000)
  afterAll(async () => {
    await browser?.close()
    await new Promise((resolve) => pages?.close(resolve))
  })

  const fromPage = async (mcp: URL) => {
    const context = await browser.newContext()
    try {
      const page = await context.newPage()
      await page.goto(origin)
      return await page.evaluate(pageScript, { mcp: mcp.href, fields: JSON.stringify({ apiKey: "sk-browser-0123456789" }) })
        .then((text) => text, (e: Error) => `failed: ${e.message}`)
    } finally {
      await context.close()
    }
  }

  for (const line of lines) {
    it(`${line.name}: a page on a named origin calls a tool with its credential header; other origins and cors off are blocked by the browser`, async () => {
      const open = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: [origin], cors: true })
      const other = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: ["http://127.0.0.1:1"], cors: true })
      const off = await line.start(buildOn(line), HeaderCredentialBackend.layer(), { allowedOrigins: [origin] })
      try {
        // v1 serves sessions (the page reads Mcp-Session-Id, exposed); v2 serves 2025 clients statelessly
        expect(await fromPage(open.url)).toBe(`${line.name === "v1" ? "session" : "no session"}: length 21`)
        expect(await fromPage(other.url)).toMatch(/^failed: .*Failed to fetch/)
        expect(await fromPage(off.url)).toMatch(/^failed: .*Failed to fetch/)
      } finally {
        await Promise.all([open.close(), other.close(), off.close()])
      }
    }, 60_000)
  }
})

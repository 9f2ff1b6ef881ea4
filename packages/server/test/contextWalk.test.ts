/**
 * Nothing a tool receives (v1 `extra`, v2 `ctx`, `ToolContext.current()`) holds a credential
 * header's value or the gateway secret: every own property, symbol keys and non-enumerable ones
 * included, is walked (v2 kept the original request under a global symbol).
 */
import { HeaderCredentialBackend, type ResolvedCredential } from "@mcp-credentials/core"
import { Redacted } from "effect"
import { describe, expect, it } from "vitest"
import { getCredentials, ToolContext } from "../src/index.js"
import { lines, type Line } from "./lines.js"

const SECRET = "gw-secret-XYZ123"
const KEY = "cred-value-QQQ999"
const walk = (root: unknown, needles: Array<string>) => {
  const found: Array<string> = []
  const seen = new Set<unknown>()
  const go = (v: unknown, path: string, depth: number) => {
    if (depth > 8) return
    if (typeof v === "string") { for (const n of needles) if (v.includes(n)) found.push(path); return }
    if (v === null || (typeof v !== "object" && typeof v !== "function")) return
    if (seen.has(v)) return
    seen.add(v)
    if (v instanceof Headers) { v.forEach((val, k) => go(val, `${path}.headers[${k}]`, depth + 1)); return }
    if (v instanceof Request) { go(v.headers, `${path}(Request)`, depth + 1); return }
    if (typeof v === "function") return
    for (const k of Reflect.ownKeys(v as object)) {
      let child: unknown
      try { child = (v as any)[k] } catch { continue }
      go(child, `${path}.${String(k)}`, depth + 1)
    }
  }
  go(root, "$", 0)
  return found
}

const buildOn = (line: Line) => (runtime: any) => {
  const server = line.newServer()
  line.install(server, { runtime }).registerTool("walk", { description: "d", credentials: "static" }, (ctx: any) => {
    const c = getCredentials() as ResolvedCredential.StaticCredential
    const ok = Redacted.value(c.fields.apiKey!) === KEY
    const paths = [...walk(ctx, [SECRET, KEY]), ...walk(ToolContext.current(), [SECRET, KEY]).map((p) => "TC" + p)]
    return `ok=${ok} found=${paths.join(",") || "none"}`
  })
  return server
}

describe.each(lines)("ctx walk, $name", (line) => {
  it("fix: the tool's context holds no credential header value nor gateway secret", async () => {
    const http = await line.start(buildOn(line), HeaderCredentialBackend.layer({ gatewaySecret: Redacted.make(SECRET), gatewayScheme: "secret" }))
    try {
      const c = await line.connect(http.url, { "x-mcp-cred-fields": JSON.stringify({ apiKey: KEY }), "x-mcp-gateway-secret": SECRET })
      const r = await c.callTool({ name: "walk", arguments: {} })
      await c.close()
      expect(r.content[0].text).toBe("ok=true found=none")
    } finally {
      await http.close()
    }
  })
})

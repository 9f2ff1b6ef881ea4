/**
 * The key end-to-end behaviours, on both SDK lines: the same tool code, registered through
 * `McpCredentials` (v1) or `McpCredentialsV2` (v2), served over real HTTP to the line's real
 * client (v2: `@modelcontextprotocol/client` on the 2026-07-28 protocol).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CredentialBackend, CurrentCredential, EnvCredentialBackend, HeaderCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { ConfigProvider, Effect, Layer, Logger, ManagedRuntime, Option, Redacted, type Runtime } from "effect"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { createHash } from "node:crypto"
import { z } from "zod"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { getCredentials, McpCredentials, McpCredentialsV2, ToolContext, ToolError } from "../src/index.js"
import { textOf } from "./helpers.js"
import { type AnyInstalled, flushRecords, type Line, lines, v1, v2 } from "./lines.js"

const sha = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 16)

/** Tool code written once; only the installation differs between the lines. */
const registerTools = (creds: AnyInstalled) => {
  creds.registerTool("whoami", { description: "hash of the api key", credentials: "static" }, () =>
    Effect.gen(function*() {
      const c = yield* CurrentCredential.getStatic()
      return `key-hash:${sha(Redacted.value(c.fields.apiKey!))}`
    }))
  creds.registerTool("echo_key", { description: "echoes the key (a leaky plain tool)", credentials: "static" }, async () => {
    const c = getCredentials()
    await new Promise((r) => setTimeout(r, 1))
    return `the key is ${c.type === "static" ? Redacted.value(c.fields.apiKey!) : ""}`
  })
  creds.registerTool("encoded_key", { description: "returns the key base64- and URL-encoded", credentials: "static" }, async () => {
    const k = McpCredentials.getField("apiKey")
    return { basic: Buffer.from(`user:${k}`).toString("base64"), url: `https://x/?k=${encodeURIComponent(k)}` }
  })
  creds.registerTool("key_length", { description: "plain tool reading getCredentials() after an await", credentials: "static" }, async () => {
    await new Promise((r) => setTimeout(r, 2))
    const c = getCredentials()
    return `length ${c.type === "static" ? Redacted.value(c.fields.apiKey!).length : -1}`
  })
  creds.registerTool("headers", { description: "visible headers" }, () => Effect.map(ToolContext.ToolContext, (ctx) => ctx.headers))
  creds.registerTool("public", { description: "needs no credential", inputSchema: { n: z.number() } }, ({ n }: { n: number }) => `n=${n}`)
  creds.registerTool("scoped", { description: "needs a scope", credentials: "static", scopes: ["repo:write"] }, () => "scoped ran")
  creds.registerTool("auth", { description: "the caller's token, as ToolContext sees it" }, () =>
    Effect.map(ToolContext.ToolContext, (ctx) =>
      Option.match(ctx.authInfo, {
        onNone: () => ({ anonymous: true }),
        onSome: (a) => ({ clientId: a.clientId, scopes: a.scopes, token: String(a.token), sub: a.extra?.sub })
      })))
  creds.registerTool("plain_context", { description: "currentToolContext() in plain code" }, async () => {
    const ctx = McpCredentials.currentToolContext()
    // the SDK-neutral accessor (what @mcp-credentials/auth reads) sees the same call on each line
    const neutral = ToolContext.current()
    return {
      tool: ctx?.toolName ?? "none",
      hasSignal: ctx?.signal instanceof AbortSignal,
      neutral: neutral?.toolName ?? "none",
      // the client's capabilities reach plain code too (a library checks them before eliciting)
      neutralCapabilities: typeof neutral?.clientCapabilities
    }
  })
  creds.registerTool("fails", { description: "a ToolError" }, () => Effect.fail(new ToolError.ToolError({ message: "nope" })))
}

const build = (line: Line, extra: Partial<McpCredentials.Options<any, any>> = {}) => (runtime: Runtime.Runtime<any>) => {
  const server = line.newServer()
  registerTools(line.install(server, { runtime, ...extra }))
  return server
}

/** Authenticates from a test header: `x-test-scopes: a b` → a token with those scopes. */
const TOKEN = "tok-inbound-secret-4242"
const authenticate = (request: Request) => {
  const scopes = request.headers.get("x-test-scopes")
  return Effect.succeed(
    scopes === null ? undefined : {
      token: TOKEN,
      clientId: "client-1",
      scopes: scopes.split(" ").filter((s) => s.length > 0),
      extra: { sub: "user-1", claims: {} }
    }
  )
}

const fieldsHeader = (apiKey: string) => ({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) })

/**
 * The line's plain Node handler for `build(line)` on a runtime of `layer`, behind a `node:http`
 * server on loopback; `front` is what the application puts before it (routing, a body parser).
 */
const serveNodeHandler = async (
  line: Line,
  layer: Layer.Layer<any, never, never>,
  front: (handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>) => (req: IncomingMessage, res: ServerResponse) => void =
    (handler) => (req, res) => void handler(req, res)
) => {
  const runtime = ManagedRuntime.make(layer)
  const node = await line.toNodeHandler(build(line), await runtime.runtime())
  const http = createServer(front(node.handler))
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r))
  return {
    url: new URL(`http://127.0.0.1:${(http.address() as { port: number }).port}/mcp`),
    node,
    close: async () => {
      await node.close()
      http.closeAllConnections()
      await new Promise((r) => http.close(r))
      await runtime.dispose()
    }
  }
}

describe.each(lines)("$name line over Streamable HTTP", (line) => {
  describe("header backend", () => {
    let http: Awaited<ReturnType<Line["start"]>>
    beforeAll(async () => {
      http = await line.start(build(line), HeaderCredentialBackend.layer(), { authenticate })
    })
    afterAll(() => http.close())

    it("speaks the line's protocol era", async () => {
      const client = await line.connect(http.url)
      expect(client.era()).toBe(line.name === "v2" ? "modern" : "legacy")
      await client.close()
    })

    it("header credentials reach Effect and plain tools; credential headers are hidden from tools", async () => {
      const client = await line.connect(http.url, { ...fieldsHeader("sk-hdr-0001"), "X-Trace": "t-1" })
      expect(textOf(await client.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-hdr-0001")}`)
      expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 11")
      const seen = (await client.callTool({ name: "headers" })).structuredContent as Record<string, string>
      expect(seen["x-trace"]).toBe("t-1")
      expect(Object.keys(seen).some((k) => k.startsWith("x-mcp-cred"))).toBe(false)
      await client.close()
    })

    it("an echoed secret is scrubbed, in plain and encoded forms", async () => {
      const client = await line.connect(http.url, fieldsHeader("sk-echo-0002"))
      expect(textOf(await client.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
      const encoded = await client.callTool({ name: "encoded_key" })
      const all = JSON.stringify(encoded)
      expect(all).toContain("[redacted]")
      expect(all).not.toContain("sk-echo-0002")
      expect(all).not.toContain(Buffer.from("user:sk-echo-0002").toString("base64").slice(8, 20))
      await client.close()
    })

    it("a missing credential is an isError result naming the header; tools without a declaration still run", async () => {
      const client = await line.connect(http.url)
      const missing = await client.callTool({ name: "whoami" })
      expect(missing.isError).toBe(true)
      expect(textOf(missing)).toContain("X-MCP-Cred-Fields")
      expect(textOf(await client.callTool({ name: "public", arguments: { n: 3 } }))).toBe("n=3")
      await client.close()
    })

    it("50 concurrent clients with different credential headers each see only their own", async () => {
      const clients = await Promise.all(
        Array.from({ length: 50 }, (_, i) => line.connect(http.url, fieldsHeader(`sk-client-${i}-xyz`)))
      )
      const results = await Promise.all(clients.map((c) => Promise.all([1, 2, 3].map(() => c.callTool({ name: "whoami" })))))
      results.forEach((rs, i) => rs.forEach((r) => expect(textOf(r)).toBe(`key-hash:${sha(`sk-client-${i}-xyz`)}`)))
      const plain = await Promise.all(clients.map((c) => c.callTool({ name: "echo_key" })))
      plain.forEach((r) => expect(textOf(r)).toBe("the key is [redacted]"))
      await Promise.all(clients.map((c) => c.close()))
    }, 120_000)

    it("per-tool scopes: refused without the scope (naming it), run with it; authInfo reaches ToolContext", async () => {
      const without = await line.connect(http.url, { ...fieldsHeader("sk-scope-0003"), "x-test-scopes": "repo:read" })
      const refused = await without.callTool({ name: "scoped" })
      expect(refused.isError).toBe(true)
      expect(textOf(refused)).toContain("repo:write")
      const auth = (await without.callTool({ name: "auth" })).structuredContent
      expect(auth).toEqual({ clientId: "client-1", scopes: ["repo:read"], token: "<redacted>", sub: "user-1" })
      await without.close()
      const withScope = await line.connect(http.url, { ...fieldsHeader("sk-scope-0003"), "x-test-scopes": "repo:read repo:write" })
      expect(textOf(await withScope.callTool({ name: "scoped" }))).toBe("scoped ran")
      await withScope.close()
      const anonymous = await line.connect(http.url)
      expect((await anonymous.callTool({ name: "auth" })).structuredContent).toEqual({ anonymous: true })
      await anonymous.close()
    })

    it("currentToolContext() works in plain tools", async () => {
      const client = await line.connect(http.url)
      expect((await client.callTool({ name: "plain_context" })).structuredContent).toEqual({ tool: "plain_context", hasSignal: true, neutral: "plain_context", neutralCapabilities: "object" })
      await client.close()
    })
  })

  describe("env backend", () => {
    let http: Awaited<ReturnType<Line["start"]>>
    beforeAll(async () => {
      const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["SVC_FIELD_apiKey", "sk-env-0001"]])))
      http = await line.start(build(line), EnvCredentialBackend.layer({ prefix: "svc_" }).pipe(Layer.provide(env)))
    })
    afterAll(() => http.close())

    it("env credentials reach the tool and are scrubbed when echoed", async () => {
      const client = await line.connect(http.url)
      expect(textOf(await client.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-env-0001")}`)
      expect(textOf(await client.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
      await client.close()
    })
  })

  it("an installation belongs to its server: installing twice returns it, installationOf finds it, other servers have none", () => {
    const installationOf = line.name === "v1" ? McpCredentials.installationOf : McpCredentialsV2.installationOf
    const server = line.newServer()
    const other = line.newServer()
    expect(installationOf(server)).toBeUndefined()
    const a = line.install(server, {})
    expect(line.install(server, {})).toBe(a)
    expect(installationOf(server)).toBe(a)
    expect(installationOf(other)).toBeUndefined()
    // kept on the server without changing what its own keys or JSON show
    expect(Object.keys(server)).toEqual(Object.keys(other))
    expect(line.install(other, {})).not.toBe(a)
    // a server that cannot take new properties is installed all the same, once
    const closed = line.newServer()
    Object.preventExtensions(closed)
    const b = line.install(closed, {})
    expect(line.install(closed, {})).toBe(b)
    expect(installationOf(closed)).toBe(b)
  })

  it("fix: registerTool without scopes or credentials keeps the install's toolScopes and tools (it dropped them: the tool was open)", async () => {
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime, toolScopes: { guarded: ["admin:write"] }, tools: { guarded: "static" } })
      creds.registerTool("guarded", { description: "scoped at install" }, () =>
        Effect.map(CurrentCredential.getStatic(), (c) => `ran with ${Object.keys(c.fields).join(",")}`))
      return server
    }, HeaderCredentialBackend.layer(), { authenticate })
    const without = await line.connect(http.url, { ...fieldsHeader("sk-guard-0009"), "x-test-scopes": "repo:read" })
    const refused = await without.callTool({ name: "guarded" })
    expect(refused.isError).toBe(true)
    expect(textOf(refused)).toContain("admin:write")
    const granted = await line.connect(http.url, { ...fieldsHeader("sk-guard-0009"), "x-test-scopes": "admin:write" })
    expect(textOf(await granted.callTool({ name: "guarded" }))).toBe("ran with apiKey")
    await Promise.all([without.close(), granted.close()])
    await http.close()
  })

  it("listing: \"authorized\" lists only the tools the caller's scopes allow (registered either way); the default lists all", async () => {
    const build = (listing: "all" | "authorized" | undefined) => (runtime: any) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime, toolScopes: { direct_admin: ["admin:write"] }, ...(listing ? { listing } : {}) })
      // one registered with the SDK itself, scoped at install; one through the integration
      ;(server as any).registerTool("direct_admin", { description: "admin" }, () => ({ content: [{ type: "text", text: "ok" }] }))
      creds.registerTool("repo_write", { description: "writes", scopes: ["repo:write"] }, () => "ok")
      creds.registerTool("open", { description: "no scope" }, () => "ok")
      return server
    }
    const names = async (url: URL, scopes?: string) => {
      const client = await line.connect(url, scopes === undefined ? {} : { ...fieldsHeader("sk-list-0001"), "x-test-scopes": scopes })
      const listed = (await client.listTools()).tools.map((t: { name: string }) => t.name).sort()
      await client.close()
      return listed
    }
    const authorized = await line.start(build("authorized"), HeaderCredentialBackend.layer(), { authenticate })
    const all = await line.start(build(undefined), HeaderCredentialBackend.layer(), { authenticate })
    try {
      expect(await names(authorized.url)).toEqual(["open"])
      expect(await names(authorized.url, "repo:read")).toEqual(["open"])
      expect(await names(authorized.url, "repo:write")).toEqual(["open", "repo_write"])
      expect(await names(authorized.url, "admin:write repo:write")).toEqual(["direct_admin", "open", "repo_write"])
      expect(await names(all.url)).toEqual(["direct_admin", "open", "repo_write"])
    } finally {
      await authorized.close()
      await all.close()
    }
  })

  it.each(["before", "after"])(
    "promptScopes and resourceScopes (installed %s registering): prompts/get, resources/read (fixed and template) and completions refused with -32003; listing: \"authorized\" hides them",
    async (when) => {
      const installFirst = when === "before"
      const build = (runtime: any) => {
        const server = line.newServer()
        const install = () =>
          line.install(server, {
            runtime,
            listing: "authorized",
            promptScopes: { secret_prompt: ["prompts:admin"] },
            resourceScopes: { secret_doc: ["docs:read"], notes: ["notes:read"], files: ["notes:read"] }
          })
        if (installFirst) install()
        const text = (t: string) => ({ messages: [{ role: "user", content: { type: "text", text: t } }] })
        server.registerPrompt("secret_prompt", { description: "admin" }, () => (secretRuns++, text("the secret prompt")))
        server.registerPrompt("open_prompt", { description: "open" }, () => text("the open prompt"))
        server.registerResource("secret_doc", "docs://secret", { description: "s" }, (uri: URL) => ({ contents: [{ uri: uri.href, text: "secret doc" }] }))
        server.registerResource("open_doc", "docs://open", { description: "o" }, (uri: URL) => ({ contents: [{ uri: uri.href, text: "open doc" }] }))
        server.registerResource(
          "notes",
          line.resourceTemplate("notes://{id}", {
            list: async () => ({ resources: [{ uri: "notes://1", name: "note one" }] }),
            complete: { id: () => ["1", "2"] }
          }),
          { description: "notes" },
          (uri: URL, vars: Record<string, string>) => ({ contents: [{ uri: uri.href, text: `note ${vars.id}` }] })
        )
        // a protected catch-all template, and an open one whose own text the catch-all matches:
        // the open one's completions stay open
        server.registerResource(
          "files",
          line.resourceTemplate("files:///{+path}", { list: undefined }),
          { description: "files" },
          (uri: URL) => ({ contents: [{ uri: uri.href, text: "a file" }] })
        )
        server.registerResource(
          "public_files",
          line.resourceTemplate("files:///public/{name}", { list: undefined, complete: { name: () => ["readme"] } }),
          { description: "public files" },
          (uri: URL) => ({ contents: [{ uri: uri.href, text: "public" }] })
        )
        if (!installFirst) install()
        return server
      }
      let secretRuns = 0
      const http = await line.start(build, HeaderCredentialBackend.layer(), { authenticate })
      const codeOf = (p: Promise<unknown>) => p.then(() => "resolved", (e: { code?: number; message?: string }) => `${e.code}: ${e.message}`)
      try {
        const none = await line.connect(http.url, { "x-test-scopes": "other:scope" })
        const all = await line.connect(http.url, { "x-test-scopes": "prompts:admin docs:read notes:read" })
        const anonymous = await line.connect(http.url)
        try {
          // listings
          const prompts = async (c: any) => (await c.raw.listPrompts()).prompts.map((p: { name: string }) => p.name).sort()
          const resources = async (c: any) => (await c.raw.listResources()).resources.map((r: { uri: string }) => r.uri).sort()
          const templates = async (c: any) => (await c.raw.listResourceTemplates()).resourceTemplates.map((t: { name: string }) => t.name).sort()
          expect(await prompts(none)).toEqual(["open_prompt"])
          expect(await prompts(all)).toEqual(["open_prompt", "secret_prompt"])
          expect(await resources(none)).toEqual(["docs://open"])
          expect(await resources(all)).toEqual(["docs://open", "docs://secret", "notes://1"])
          expect(await templates(none)).toEqual(["public_files"])
          expect(await templates(all)).toEqual(["files", "notes", "public_files"])
          // prompts/get
          const refused = await codeOf(none.raw.getPrompt({ name: "secret_prompt" }))
          expect(refused).toMatch(/^-32003: /)
          expect(refused).toContain("Prompt secret_prompt requires the scope(s) prompts:admin, which the access token does not grant. Authorize again with these scopes.")
          expect(secretRuns).toBe(0)
          expect(await codeOf(anonymous.raw.getPrompt({ name: "secret_prompt" }))).toContain(
            "Prompt secret_prompt requires the scope(s) prompts:admin, and the request has no access token."
          )
          expect(JSON.stringify(await all.raw.getPrompt({ name: "secret_prompt" }))).toContain("the secret prompt")
          expect(JSON.stringify(await none.raw.getPrompt({ name: "open_prompt" }))).toContain("the open prompt")
          // resources/read: a fixed resource and a template's
          expect(await codeOf(none.readResource("docs://secret"))).toContain("Resource docs://secret requires the scope(s) docs:read")
          expect(await codeOf(none.readResource("notes://7"))).toContain("Resource notes://7 requires the scope(s) notes:read")
          expect(JSON.stringify(await none.readResource("docs://open"))).toContain("open doc")
          expect(JSON.stringify(await all.readResource("notes://7"))).toContain("note 7")
          // completions of the template's arguments
          const complete = (c: any) =>
            c.raw.complete({ ref: { type: "ref/resource", uri: "notes://{id}" }, argument: { name: "id", value: "" } })
          expect(await codeOf(complete(none))).toContain("Resource notes://{id} requires the scope(s) notes:read")
          expect((await complete(all)).completion.values).toEqual(["1", "2"])
          const openCompletion = await none.raw.complete({ ref: { type: "ref/resource", uri: "files:///public/{name}" }, argument: { name: "name", value: "" } })
          expect(openCompletion.completion.values).toEqual(["readme"])
        } finally {
          await Promise.all([none.close(), all.close(), anonymous.close()])
        }
      } finally {
        await http.close()
      }
    }
  )

  it("insufficientScope answers a prompts/get or resources/read lacking its scope with the given HTTP response", async () => {
    const refusals: Array<string> = []
    const http = await line.start((runtime: any) => {
      const server = line.newServer()
      line.install(server, { runtime, promptScopes: { p: ["prompts:admin"] }, resourceScopes: { d: ["docs:read"] } })
      server.registerPrompt("p", { description: "p" }, () => ({ messages: [{ role: "user", content: { type: "text", text: "p" } }] }))
      server.registerResource("d", "docs://d", { description: "d" }, (uri: URL) => ({ contents: [{ uri: uri.href, text: "d" }] }))
      return server
    }, HeaderCredentialBackend.layer(), {
      authenticate,
      insufficientScope: (missing) => {
        refusals.push(missing.join(" "))
        return new Response(JSON.stringify({ error: "insufficient_scope" }), { status: 403, headers: { "content-type": "application/json" } })
      }
    })
    const client = await line.connect(http.url, { "x-test-scopes": "other:scope" })
    try {
      await expect(client.raw.getPrompt({ name: "p" })).rejects.toThrow()
      await expect(client.readResource("docs://d")).rejects.toThrow()
      expect(refusals).toEqual(["prompts:admin", "docs:read"])
    } finally {
      await client.close()
      await http.close()
    }
  })

  it("a scoped tool called without any access token says so (not that the token lacks the scope)", async () => {
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      creds.registerTool("scoped", { description: "needs profile", scopes: ["profile"] }, () => Effect.succeed("ran"))
      return server
    }, HeaderCredentialBackend.layer())
    const client = await line.connect(http.url)
    const refused = await client.callTool({ name: "scoped" })
    expect(refused.isError).toBe(true)
    expect(textOf(refused)).toBe("Tool scoped requires the scope(s) profile, and the call has no access token. Call it with an access token that grants them.")
    await client.close()
    await http.close()
  })

  it("a tool without a declaration never triggers resolution, even when the backend would fail", async () => {
    let calls = 0
    const failing = Layer.succeed(CredentialBackend.CredentialBackend, {
      resolve: () => Effect.suspend(() => (calls++, Effect.die("must not be called")))
    })
    const http = await line.start(build(line), failing)
    const client = await line.connect(http.url)
    expect(textOf(await client.callTool({ name: "public", arguments: { n: 7 } }))).toBe("n=7")
    expect(textOf(await client.callTool({ name: "headers" }))).not.toContain("must not")
    expect(calls).toBe(0)
    await client.close()
    await http.close()
  })

  it("a tool registered through the integration and then given a plain callback (update) still reads its credentials and context", async () => {
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      const read = async () => {
        const context = McpCredentials.currentToolContext()
        return { content: [{ type: "text" as const, text: `key=${McpCredentials.getField("apiKey").length} tool=${context?.toolName}` }] }
      }
      creds.registerTool("ours", { description: "x", credentials: "static" }, read)
      const replaced = creds.registerTool("replaced", { description: "x", credentials: "static" }, () => "never") as {
        update: (u: { callback: unknown }) => void
      }
      // the SDK's own RegisteredTool.update: the new callback is not the integration's
      replaced.update({ callback: read })
      return server
    }, HeaderCredentialBackend.layer())
    const client = await line.connect(http.url, fieldsHeader("sk-update-0005"))
    expect(textOf(await client.callTool({ name: "ours" }))).toBe("key=14 tool=ours")
    expect(textOf(await client.callTool({ name: "replaced" }))).toBe("key=14 tool=replaced")
    await client.close()
    await http.close()
  })

  it("intercepts tools registered directly on the server, before and after install", async () => {
    const backend = HeaderCredentialBackend.layer()
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const tool = async () => ({ content: [{ type: "text" as const, text: `key=${McpCredentials.getField("apiKey")}` }] })
      server.registerTool("before", { description: "x" }, tool)
      line.install(server, { runtime, tools: { before: "static", after: "static" } })
      server.registerTool("after", { description: "x" }, tool)
      return server
    }, backend)
    const client = await line.connect(http.url, fieldsHeader("sk-direct-0004"))
    expect(textOf(await client.callTool({ name: "before" }))).toBe("key=[redacted]")
    expect(textOf(await client.callTool({ name: "after" }))).toBe("key=[redacted]")
    await client.close()
    await http.close()
  })

  it("credentialHeaderPrefixes: headers of named header backends are hidden from ToolContext.headers, besides X-MCP-Cred-*", async () => {
    // only the named backend's prefix is listed: X-MCP-Cred- stays hidden all the same
    const http = await line.start(build(line, { credentialHeaderPrefixes: ["X-Github-"] }), HeaderCredentialBackend.layer())
    const client = await line.connect(http.url, { "X-Github-Token": "ghp-hidden-0009", "X-MCP-Cred-Access-Token": "mcp-hidden-0010", "X-Trace": "t-9" })
    const seen = (await client.callTool({ name: "headers" })).structuredContent as Record<string, string>
    expect(seen["x-trace"]).toBe("t-9")
    expect(seen["x-github-token"]).toBeUndefined()
    expect(seen["x-mcp-cred-access-token"]).toBeUndefined()
    expect(JSON.stringify(seen)).not.toContain("ghp-hidden")
    expect(JSON.stringify(seen)).not.toContain("mcp-hidden")
    await client.close()
    await http.close()
  })

  it("fix: a tool's own ToolContext knows its request (requestDigest) and, on 2026-07-28, the protocol version; ToolContext.current() is the same", async () => {
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      for (const credentials of [undefined, "static"] as const) {
        creds.registerTool(`ctx_${credentials ?? "none"}`, { description: "d", inputSchema: { q: z.string() }, ...(credentials ? { credentials } : {}) }, () =>
          Effect.map(ToolContext.ToolContext, (ctx) => ({
            digest: ctx.requestDigest ?? "none",
            version: ctx.protocolVersion ?? "none",
            current: ToolContext.current()?.requestDigest ?? "none"
          })))
      }
      creds.registerTool("ctx_pair", { description: "d", inputSchema: { q: z.string(), r: z.object({ x: z.number(), y: z.number() }) } }, () =>
        Effect.map(ToolContext.ToolContext, (ctx) => ({ digest: ctx.requestDigest ?? "none" })))
      return server
    }, HeaderCredentialBackend.layer())
    const client = await line.connect(http.url, fieldsHeader("sk-ctx-0012"))
    for (const name of ["ctx_none", "ctx_static"]) {
      const r = (await client.callTool({ name, arguments: { q: "a" } })).structuredContent as Record<string, string>
      const expected = createHash("sha256").update(JSON.stringify(["tools/call", name, { q: "a" }])).digest("base64url")
      expect(r.digest, name).toBe(expected)
      expect(r.current, name).toBe(expected)
      if (line.name === "v2") expect(r.version, name).toBe("2026-07-28")
    }
    // fix: the same arguments in another key order are the same request
    const digests = []
    for (const args of [{ q: "a", r: { y: 1, x: 2 } }, { r: { x: 2, y: 1 }, q: "a" }]) {
      digests.push(((await client.callTool({ name: "ctx_pair", arguments: args })).structuredContent as Record<string, string>).digest)
    }
    expect(digests[0]).toBe(digests[1])
    expect(digests[0]).toBe(createHash("sha256").update(JSON.stringify(["tools/call", "ctx_pair", { q: "a", r: { x: 2, y: 1 } }])).digest("base64url"))
    await client.close()
    await http.close()
  })

  it("credential backends see the call's ToolContext while resolving (tool name, request digest, notify)", async () => {
    const seen: Array<{ tool: string; digest: string | undefined; canNotify: boolean }> = []
    const recording = Layer.succeed(CredentialBackend.CredentialBackend, {
      resolve: () =>
        Effect.flatMap(Effect.serviceOption(ToolContext.ToolContext), (tool) => {
          if (Option.isSome(tool)) {
            seen.push({ tool: tool.value.toolName, digest: tool.value.requestDigest, canNotify: tool.value.notify !== undefined })
          }
          return Effect.succeed(ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-ctx-backend-1" }))
        })
    })
    const http = await line.start((runtime) => {
      const server = line.newServer()
      line.install(server, { runtime }).registerTool("args", { description: "d", credentials: "static", inputSchema: { q: z.string() } }, ({ q }: { q: string }) => `q=${q}`)
      return server
    }, recording)
    const client = await line.connect(http.url)
    expect(textOf(await client.callTool({ name: "args", arguments: { q: "a" } }))).toBe("q=a")
    await client.callTool({ name: "args", arguments: { q: "a" } })
    await client.callTool({ name: "args", arguments: { q: "b" } })
    await client.close()
    await http.close()
    expect(seen.map((s) => s.tool)).toEqual(["args", "args", "args"])
    expect(seen.every((s) => s.canNotify)).toBe(true)
    // the same call gives the same digest, on either line; other arguments another one
    const expected = createHash("sha256").update(JSON.stringify(["tools/call", "args", { q: "a" }])).digest("base64url")
    expect(seen[0]!.digest).toBe(expected)
    expect(seen[1]!.digest).toBe(expected)
    expect(seen[2]!.digest).not.toBe(expected)
  })

  it("fix: a tool's own JSON-RPC error (a JsonRpcErrorTypeId carrier, or -32042) and the SDK's protocol errors reach the client as the bare SDK sends them", async () => {
    const logged: Array<string> = []
    const http = await line.start((runtime) => {
      const server = line.newServer()
      const creds = line.install(server, { runtime })
      const carrier = (apiKey: string) => ({
        message: `Open the link first (${apiKey})`,
        [ToolContext.JsonRpcErrorTypeId]: { code: -32050, data: { hint: "open", key: apiKey } }
      })
      creds.registerTool("effect_carrier", { description: "d", credentials: "static" }, () =>
        Effect.flatMap(CurrentCredential.getStatic(), (c) => Effect.fail(carrier(Redacted.value(c.fields.apiKey!)))))
      creds.registerTool("plain_carrier", { description: "d" }, async () => {
        throw carrier("none")
      })
      // the SDKs' UrlElicitationRequiredError, as a library would throw it (v1: the SDK's own
      // McpError, whose message already carries "MCP error -32042: ")
      creds.registerTool("url_required", { description: "d" }, async () => {
        throw line.name === "v1"
          ? new McpError(-32042, "URL elicitation required", { elicitations: [] })
          : Object.assign(new Error("URL elicitation required"), { code: -32042, data: { elicitations: [] } })
      })
      // an error of another library with a numeric code is not a JSON-RPC error of ours
      creds.registerTool("grpc_like", { description: "d" }, async () => {
        throw Object.assign(new Error("backend 10.0.0.7:5432 down"), { code: 14 })
      })
      return server
    }, Layer.merge(HeaderCredentialBackend.layer(), Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(String(message))))))
    const client = await line.connect(http.url, fieldsHeader("sk-carrier-0011"))
    for (const name of ["effect_carrier", "plain_carrier"]) {
      const e = await client.callTool({ name }).then((r) => r, (e) => e)
      expect(e.code, `${name}: ${JSON.stringify(e)}`).toBe(-32050)
      expect(e.data?.hint).toBe("open")
      // scrubbed like everything else
      expect(JSON.stringify({ m: e.message, d: e.data })).not.toContain("sk-carrier-0011")
    }
    const url = await client.callTool({ name: "url_required" }).then((r) => r, (e) => e)
    expect(url.code, JSON.stringify(url)).toBe(-32042)
    // the wire carries the prefix once, as the bare SDK sends it (v1's client adds its own)
    expect((String(url.message).match(/MCP error -32042/g) ?? []).length).toBeLessThanOrEqual(1)
    const grpc = await client.callTool({ name: "grpc_like" }).then((r) => r, (e) => e)
    expect(grpc.isError, JSON.stringify(grpc)).toBe(true)
    expect(textOf(grpc)).toContain("failed unexpectedly")
    // an unknown tool: v1 answers an isError result, v2 a -32602 error, installed or not
    const unknown = await client.callTool({ name: "no_such_tool" }).then((r) => r, (e) => e)
    if (line.name === "v2") expect(unknown.code).toBe(-32602)
    else expect(textOf(unknown)).toContain("not found")
    expect(JSON.stringify(unknown)).not.toContain("failed unexpectedly")
    expect(logged.filter((l) => l.includes("failed unexpectedly")).length).toBe(1) // grpc_like's, only
    await client.close()
    await http.close()
  })

  it("errors: \"jsonrpc\" surfaces failures as JSON-RPC errors", async () => {
    const http = await line.start(build(line, { errors: "jsonrpc" }), HeaderCredentialBackend.layer())
    const client = await line.connect(http.url)
    const e1 = await client.callTool({ name: "whoami" }).then(() => undefined, (e) => e)
    expect(e1?.code).toBe(-32001)
    expect(e1.message).toContain("X-MCP-Cred-Fields")
    const e2 = await client.callTool({ name: "fails" }).then(() => undefined, (e) => e)
    expect(e2?.code).toBe(line.toolErrorCode)
    expect(e2.message).toContain("nope")
    // fix: the wire message carries no "MCP error <code>: " prefix (v1's client adds one: it had two)
    for (const e of [e1, e2]) expect(e.message.match(/MCP error/g)?.length ?? 0).toBeLessThanOrEqual(1)
    expect(textOf(await client.callTool({ name: "public", arguments: { n: 1 } }))).toBe("n=1")
    await client.close()
    await http.close()
  })

  it("the plain Node (req, res) handler serves MCP with header credentials", async () => {
    const { close, node, url } = await serveNodeHandler(line, HeaderCredentialBackend.layer(), (handler) => (req, res) => {
      if (req.url?.startsWith("/mcp")) void handler(req, res)
      else res.writeHead(404).end()
    })
    const client = await line.connect(url, fieldsHeader("sk-node-handler"))
    expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 15")
    expect(textOf(await client.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
    await client.close()
    await node.close()
    // after close() nothing more is served (no session left behind that nobody would close)
    const late = await fetch(url, { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: "{}" })
    expect(late.status).toBe(503)
    await close()
  })

  it("fix: the plain Node handler runs on the runtime it is given: its ConfigProvider and its logger apply (only its services did)", async () => {
    const logged: Array<string> = []
    const { close, url } = await serveNodeHandler(line, Layer.mergeAll(
      EnvCredentialBackend.layer({ prefix: "TNH_" }),
      Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["TNH_FIELD_apiKey", "sk-from-provider-0013"]]))),
      Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void logged.push(String(message))))
    ))
    const client = await line.connect(url)
    expect(textOf(await client.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-from-provider-0013")}`)
    // the scrub warning goes to the runtime's logger
    expect(textOf(await client.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
    await new Promise((r) => setTimeout(r, 50))
    expect(logged.some((l) => l.includes("Scrubbed 1 secret occurrence"))).toBe(true)
    await client.close()
    await close()
  })

  it("fix: the plain Node handler behind a body parser (Express's express.json()) takes the parsed body", async () => {
    // what express.json() does: read the stream, then set req.body
    const { close, url } = await serveNodeHandler(line, HeaderCredentialBackend.layer(), (handler) => (req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        if (chunks.length > 0) (req as { body?: unknown }).body = JSON.parse(Buffer.concat(chunks).toString("utf8"))
        void handler(req, res)
      })
    })
    const client = await line.connect(url, fieldsHeader("sk-parsed-body"))
    expect(textOf(await client.callTool({ name: "key_length" }))).toBe("length 14")
    await client.close()
    await close()
  })

  it("insufficientScope: a call lacking a tool's scope is answered with the given HTTP response", async () => {
    let refusals = 0
    const http = await line.start(build(line), HeaderCredentialBackend.layer(), {
      authenticate,
      insufficientScope: (missing) => {
        refusals++
        return new Response(JSON.stringify({ error: "insufficient_scope", missing }), {
          status: 403,
          headers: { "content-type": "application/json", "www-authenticate": `Bearer error="insufficient_scope", scope="${missing.join(" ")}"` }
        })
      }
    })
    const client = await line.connect(http.url, { ...fieldsHeader("sk-step-up-05"), "x-test-scopes": "repo:read" })
    await expect(client.callTool({ name: "scoped" })).rejects.toThrow()
    expect(refusals).toBe(1)
    expect(textOf(await client.callTool({ name: "public", arguments: { n: 2 } }))).toBe("n=2")
    await client.close()
    const allowed = await line.connect(http.url, { ...fieldsHeader("sk-step-up-05"), "x-test-scopes": "repo:write" })
    expect(textOf(await allowed.callTool({ name: "scoped" }))).toBe("scoped ran")
    await allowed.close()
    await http.close()
  })
})

describe("v1 specifics", () => {
  it("a plain tool's extra.requestInfo.headers hide credential headers, Authorization and Cookie, whether the tool reads or replaces them", async () => {
    const seen: Array<Record<string, unknown>> = []
    const http = await v1.start((runtime) => {
      const server = v1.newServer()
      McpCredentials.install(server, { runtime })
      server.registerTool("raw", { description: "d" }, async (extra: McpCredentials.Extra) => {
        seen.push({ ...extra.requestInfo!.headers })
        const info = extra.requestInfo!
        info.headers = { replaced: "yes" }
        seen.push({ ...info.headers, spread: Object.keys({ ...info }).includes("headers") })
        return { content: [{ type: "text" as const, text: "ok" }] }
      })
      return server
    }, HeaderCredentialBackend.layer())
    const client = await v1.connect(http.url, { ...fieldsHeader("sk-raw-0011"), "X-Trace": "t-11", Cookie: "c=sk-cookie-0012" })
    expect(textOf(await client.callTool({ name: "raw" }))).toBe("ok")
    await client.close()
    await http.close()
    expect(seen[0]!["x-trace"]).toBe("t-11")
    expect(seen[0]!["content-type"]).toBeDefined()
    expect(JSON.stringify(seen[0])).not.toMatch(/x-mcp-cred|sk-raw-0011|cookie|sk-cookie-0012/i)
    expect(seen[1]).toEqual({ replaced: "yes", spread: true })
  })
})

describe("v2 specifics", () => {
  it("listing: \"authorized\" refuses a public cache hint on a list method (one caller's list would be served to others)", () => {
    const server = v2.newServer({ cacheHints: { "tools/list": { ttlMs: 60_000, cacheScope: "public" } } })
    expect(() => McpCredentialsV2.install(server, { listing: "authorized" })).toThrow(
      `McpCredentialsV2.install: listing "authorized" filters tools/list per caller; its cache hint must not be cacheScope "public"`
    )
    const privateHint = v2.newServer({ cacheHints: { "tools/list": { ttlMs: 60_000, cacheScope: "private" } } })
    expect(() => McpCredentialsV2.install(privateHint, { listing: "authorized" })).not.toThrow()
  })

  // cancellation on both lines: cancellation.test.ts

  it("ToolContext from the v2 ctx: progress and logging on the call's stream; elicit refused on 2026-07-28", async () => {
    const http = await v2.start((runtime) => {
      const server = v2.newServer({ capabilities: { logging: {} } })
      McpCredentialsV2.install(server, { runtime }).registerTool("ctx", { description: "d", credentials: "static" }, () =>
        Effect.gen(function*() {
          const ctx = yield* ToolContext.ToolContext
          yield* ctx.progress(1, { total: 2, message: "half" })
          yield* ctx.log("info", "hello from the tool")
          const elicited = yield* ctx.elicit({ mode: "form", message: "Name?", requestedSchema: { type: "object", properties: {} } }).pipe(
            Effect.map(() => "accepted"),
            Effect.catchTag("ElicitationError", () => Effect.succeed("refused"))
          )
          return { tool: ctx.toolName, requestId: typeof ctx.requestId, elicited, session: ctx.sessionId._tag }
        }))
      return server
    }, HeaderCredentialBackend.layer())
    const client = new ClientV2({ name: "c", version: "1" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
    const logs: Array<unknown> = []
    client.setNotificationHandler("notifications/message", (n) => void logs.push(n.params.data))
    await client.connect(new TransportV2(http.url, { requestInit: { headers: fieldsHeader("sk-ctx-v2-08") } }))
    const progress: Array<number> = []
    const r = await client.callTool(
      { name: "ctx", _meta: { "io.modelcontextprotocol/logLevel": "debug" } },
      { onprogress: (p) => void progress.push(p.progress) }
    )
    expect(r.structuredContent).toEqual({ tool: "ctx", requestId: "number", elicited: "refused", session: "None" })
    expect(progress).toEqual([1])
    expect(logs).toEqual(["hello from the tool"])
    await client.close()
    await http.close()
  })

  it("McpHttpServerV2 also serves 2025-era clients (the SDK's stateless legacy fallback)", async () => {
    const http = await v2.start(build(v2), HeaderCredentialBackend.layer())
    const legacy = await v1.connect(http.url, fieldsHeader("sk-legacy-0006"))
    expect(textOf(await legacy.callTool({ name: "whoami" }))).toBe(`key-hash:${sha("sk-legacy-0006")}`)
    expect(textOf(await legacy.callTool({ name: "echo_key" }))).toBe("the key is [redacted]")
    await legacy.close()
    await http.close()
  })

  it("McpCredentialsV2.getCredentials and currentToolContext are the same accessors", async () => {
    const http = await v2.start((runtime) => {
      const server = v2.newServer()
      McpCredentialsV2.install(server, { runtime }).registerTool("ctx", { description: "d", credentials: "static" }, async (ctx) => {
        const c = McpCredentialsV2.getCredentials()
        return {
          sameTool: McpCredentialsV2.currentToolContext()?.toolName,
          neutral: ToolContext.current()?.toolName,
          requestId: typeof ctx.mcpReq.id,
          keyLength: c.type === "static" ? McpCredentialsV2.getField("apiKey").length : 0,
          // the tool's own view of the HTTP request has no credential header
          credHeader: ctx.http?.req?.headers.get("x-mcp-cred-fields") ?? null
        }
      })
      return server
    }, HeaderCredentialBackend.layer())
    const client = await v2.connect(http.url, fieldsHeader("sk-v2-only-07"))
    expect((await client.callTool({ name: "ctx" })).structuredContent).toEqual({ sameTool: "ctx", neutral: "ctx", requestId: "number", keyLength: 13, credHeader: null })
    await client.close()
    await http.close()
  })
})

// -----------------------------------------------------------------------------
// leak oracle on both lines: canaries in env and headers, every JSON-RPC body in both directions
// and every log line recorded while tools misbehave; not one canary may appear in any form
// -----------------------------------------------------------------------------

const CANARIES = {
  envKey: "CANARY-env-key-4e8a17",
  envToken: "CANARY-env-token-7c2d90",
  envRefresh: "CANARY-env-refresh-1f6b35",
  hdrKey: "CANARY-hdr-key-9a3e64",
  hdrToken: "CANARY-hdr-token-2d7c81",
  malformed: "CANARY-malformed-5b9f02",
  gateway: "CANARY-gateway-secret-8e1a46",
  bearer: "CANARY-bearer-token-3c5d27"
}
const ALL_CANARIES = Object.values(CANARIES)

/** Every occurrence of a canary in text: plain, JSON-escaped, URL-encoded, or inside any base64/base64url blob. */
const occurrences = (text: string): number => {
  let n = 0
  for (const c of ALL_CANARIES) {
    for (const form of new Set([c, JSON.stringify(c).slice(1, -1), encodeURIComponent(c)])) n += text.split(form).length - 1
  }
  for (const blob of text.match(/[A-Za-z0-9+/_-]{12,}={0,2}/g) ?? []) {
    for (const enc of ["base64", "base64url"] as const) {
      for (let cut = 0; cut < 4; cut++) {
        const decoded = Buffer.from(blob.slice(cut), enc).toString("latin1")
        for (const c of ALL_CANARIES) if (decoded.includes(c)) n++
      }
    }
  }
  return n
}

const leakyTools = (creds: AnyInstalled) => {
  const key = () => {
    const c = getCredentials()
    return c.type === "static" ? Redacted.value(c.fields.apiKey!) : Redacted.value(c.accessToken)
  }
  creds.registerTool("echo_all", { description: "echoes every secret it can see", credentials: { default: "static", token: "oauth" } }, () =>
    Effect.gen(function*() {
      const t = yield* CurrentCredential.getOAuth("token")
      const k = McpCredentials.getField("apiKey")
      const tool = yield* ToolContext.ToolContext
      const bearer = Option.match(tool.authInfo, { onNone: () => "", onSome: (a) => Redacted.value(a.token) })
      return {
        content: [
          { type: "text", text: `key ${k} token ${Redacted.value(t.accessToken)} refresh ${t.refreshToken ? Redacted.value(t.refreshToken) : ""} bearer ${bearer}` },
          { type: "text", text: `basic ${Buffer.from(`user:${k}`).toString("base64")} url ${encodeURIComponent(k)} b64url ${Buffer.from(`xy${k}`).toString("base64url")}` }
        ],
        structuredContent: { nested: { deeper: [k, { [k]: Redacted.value(t.accessToken) }] }, json: JSON.stringify({ h: `Bearer ${k}` }) }
      }
    }))
  creds.registerTool("throws", { description: "throws with the key", credentials: "static" }, async () => {
    throw new Error(`failed with key ${key()}`)
  })
  creds.registerTool("dies", { description: "defect with the key", credentials: "static" }, () =>
    Effect.sync(() => {
      throw new TypeError(`defect with key ${key()}`)
    }))
  creds.registerTool("tool_error", { description: "ToolError with the key", credentials: "static" }, () =>
    Effect.suspend(() => Effect.fail(new ToolError.ToolError({ message: `upstream refused ${key()}` }))))
  creds.registerTool("logs", { description: "logs the key through Effect", credentials: "static" }, () =>
    Effect.as(Effect.logInfo("working"), "done"))
}

describe.each(lines)("$name line: leak oracle", (line) => {
  it("no canary appears in any message or log line, in any encoded form", async () => {
    const logLines: Array<string> = []
    const messages: Array<string> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make((o) => logLines.push(Logger.logfmtLogger.log(o))))
    const env = Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
      ["SVC_FIELD_apiKey", CANARIES.envKey],
      ["OA_ACCESS_TOKEN", CANARIES.envToken],
      ["OA_REFRESH_TOKEN", CANARIES.envRefresh]
    ])))
    const envLayer = Layer.mergeAll(
      EnvCredentialBackend.layer({ prefix: "SVC_" }),
      CredentialBackend.layerNamed("token", EnvCredentialBackend.layer({ prefix: "OA_" }))
    ).pipe(Layer.provide(env))
    const gatewaySecret = Redacted.make(CANARIES.gateway)
    const headerLayer = Layer.mergeAll(
      HeaderCredentialBackend.layer({ gatewaySecret }),
      CredentialBackend.layerNamed("token", HeaderCredentialBackend.layer({ gatewaySecret }))
    )
    const bearerAuth = (request: Request) =>
      Effect.succeed(request.headers.get("x-test-bearer") === null ? undefined : { token: CANARIES.bearer, clientId: "c", scopes: [], extra: { claims: {} } })
    const build = (runtime: Runtime.Runtime<any>) => {
      const server = line.newServer()
      leakyTools(line.install(server, { runtime }))
      return server
    }
    const servers = [
      await line.start(build, Layer.merge(envLayer, capture), { authenticate: bearerAuth }),
      await line.start(build, Layer.merge(headerLayer, capture), { authenticate: bearerAuth })
    ]
    const credHeaders = { "X-MCP-Cred-Fields": JSON.stringify({ apiKey: CANARIES.hdrKey }), "X-MCP-Cred-Access-Token": CANARIES.hdrToken }
    const sign = (h: Record<string, string>) => ({ ...h, ...HeaderCredentialBackend.signGatewayHeaders(h, gatewaySecret) })
    const sessions: Array<[number, Record<string, string>]> = [
      [0, { "x-test-bearer": "1" }],
      [1, { ...sign(credHeaders), "x-test-bearer": "1" }],
      [1, credHeaders], // unsigned: refused
      [1, sign({ "X-MCP-Cred-Fields": `{"apiKey":"${CANARIES.malformed}`, "X-MCP-Cred-Access-Token": CANARIES.malformed })],
      [1, sign({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey: { nested: CANARIES.malformed } }) })]
    ]
    const tools = ["echo_all", "throws", "dies", "tool_error", "logs"]
    for (const [i, headers] of sessions) {
      const client = await line.connect(servers[i]!.url, headers, messages)
      for (const name of tools) {
        const r = await client.callTool({ name }).catch((e) => ({ error: String(e) }))
        messages.push(JSON.stringify(r))
      }
      await client.close()
    }
    await flushRecords()
    await Promise.all(servers.map((s) => s.close()))
    const all = messages.join("\n")
    // the misbehaving tools really ran and really had the secrets
    expect(all).toContain("[redacted]")
    expect(all).toContain("correlation id")
    expect(all).toContain("Credential headers rejected")
    expect(all).toContain("Invalid X-MCP-Cred-Fields header")
    expect(all).toContain("upstream refused [redacted]")
    // env and header sessions each had every kind of secret (key, token, refresh, bearer) in hand
    expect(all.split("key [redacted] token [redacted] refresh [redacted] bearer [redacted]").length - 1).toBeGreaterThanOrEqual(2)
    // the server's answers are recorded from the wire, not only the client's parsed results
    expect(messages.filter((m) => m.includes('"jsonrpc":"2.0"') && m.includes('"result"')).length).toBeGreaterThan(10)
    expect(logLines.some((l) => l.includes("Scrubbed"))).toBe(true)
    expect(messages.length).toBeGreaterThan(50)
    const found = occurrences(all) + occurrences(logLines.join("\n"))
    expect(found).toBe(0)
  }, 60_000)
})

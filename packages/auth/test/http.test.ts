/**
 * The auth integration over real HTTP on both SDK lines: McpHttpServer (v1) and McpHttpServerV2
 * (v2, the real `@modelcontextprotocol/client` on 2026-07-28) with McpAuth.authenticate and the
 * well-known routes, driven by raw requests and the line's real MCP client (seed §2.7 middleware
 * cases, RFC 6750/9728).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import { Context, Effect, Either, Layer, Option, Redacted } from "effect"
import * as jose from "jose"
import { type Line, lines } from "../../server/test/lines.js"
import { AccessToken, AuthUser, JwtVerifier, McpAuth, TokenVerifier } from "../src/index.js"

const SECRET = "an-hmac-secret-of-at-least-32-bytes!!"
const AUD = "http://127.0.0.1/mcp"
const ISS = "https://issuer.example"

const mint = (claims: Record<string, unknown>, opts: { exp?: string | number; aud?: string; iss?: string; key?: string } = {}) =>
  new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setIssuer(opts.iss ?? ISS)
    .setAudience(opts.aud ?? AUD)
    .setExpirationTime(opts.exp ?? "5m")
    .sign(new TextEncoder().encode(opts.key ?? SECRET))

/** The same tool code on both lines; only the server and the installation differ. */
const build = (line: Line) => (runtime: any) => {
  const server = line.newServer()
  const creds = line.install(server, { runtime, context: McpAuth.toolServices })
  creds.registerTool("me", { description: "echoes the caller's claims" }, () =>
    Effect.gen(function*() {
      const user = yield* AuthUser.CurrentUser
      const token = yield* AccessToken.CurrentAccessToken
      return { claims: user.claims, scopes: token.scopes, sub: token.subject ?? null }
    }))
  creds.registerTool("me_plain", { description: "plain-async getUser" }, async () => {
    await new Promise((r) => setTimeout(r, 1))
    const user = McpAuth.getUser()
    return { email: String(user.email), hasToken: McpAuth.getAccessToken() !== undefined }
  })
  creds.registerTool("admin", { description: "needs the admin scope", scopes: ["admin"] }, () => "admin ok")
  return server
}

const start = async (line: Line, options: Record<string, unknown>) => {
  const verifier = JwtVerifier.layer({ secret: Redacted.make(SECRET), audience: AUD, issuer: ISS })
  const http = await line.start(build(line), verifier as Layer.Layer<any, never, never>, { allowedHosts: "any", ...options })
  return { base: http.url.origin, url: http.url, close: http.close }
}

const initialize = (url: string | URL, headers: Record<string, string> = {}, method = "POST") =>
  fetch(url, {
    method,
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
    ...(method === "POST"
      ? {
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } }
        })
      }
      : {})
  })

describe.each(lines)("McpAuth over HTTP, $name line", (line) => {
  const connect = (url: URL, token: string) => line.connect(url, { authorization: `Bearer ${token}` })
  let srv: Awaited<ReturnType<typeof start>>
  let strict: Awaited<ReturnType<typeof start>>
  const publicKeys = { keys: [{ kty: "RSA", kid: "k1", alg: "RSA-OAEP-256", use: "enc", n: "AQAB", e: "AQAB" }] }
  beforeAll(async () => {
    const resource = "http://127.0.0.1/mcp"
    srv = await start(line, {
      authenticate: McpAuth.authenticate({ resourceMetadataUrl: McpAuth.resourceMetadataUrl(resource), resource }),
      routes: McpAuth.wellKnownRouter({
        resource,
        authorizationServers: [ISS],
        scopesSupported: ["admin", "email"],
        publicKeys: publicKeys as jose.JSONWebKeySet,
        scopeDiscovery: { shape: "openid-configuration", scopes: ["name", "email"] }
      })
    })
    strict = await start(line, {
      authenticate: McpAuth.authenticate({ requiredClaims: ["email"] }),
      insufficientScope: McpAuth.insufficientScope({ resourceMetadataUrl: "http://127.0.0.1/.well-known/oauth-protected-resource/mcp" }),
      routes: McpAuth.wellKnownRouter({
        resource,
        scopeDiscovery: { shape: "openid-configuration", path: "/.well-known/custom-discovery", scopes: ["email"], issuer: "https://middleware.example.com/" }
      })
    })
  })
  afterAll(async () => {
    await srv.close()
    await strict.close()
  })

  it("keep: no Authorization → 401 invalid_token with WWW-Authenticate Bearer and resource_metadata (RFC 9728)", async () => {
    const res = await initialize(srv.url)
    expect(res.status).toBe(401)
    expect(await res.json()).toEqual({ error: "invalid_token" })
    expect(res.headers.get("www-authenticate")).toBe('Bearer resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"')
  })

  it("keep: Basic scheme → 401 invalid_token", async () => {
    expect((await initialize(srv.url, { authorization: "Basic abc" })).status).toBe(401)
  })

  it("keep: a token the verifier refuses → 401 with error=invalid_token and a fixed description", async () => {
    const cases: Array<[string, string]> = [
      [await mint({ sub: "u" }, { key: "another-secret-of-at-least-32-bytes!!!" }), "bad signature"],
      [await mint({ sub: "u" }, { exp: Math.floor(Date.now() / 1000) - 3600 }), "expired"],
      [await mint({ sub: "u" }, { aud: "https://other.example/mcp" }), "wrong audience"],
      [await mint({ sub: "u" }, { iss: "https://evil.example" }), "wrong issuer"],
      ["eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1In0.", "unsupported algorithm"],
      ["not-a-jwt", "malformed"]
    ]
    for (const [token, reason] of cases) {
      const res = await initialize(srv.url, { authorization: `Bearer ${token}` })
      expect(res.status, reason).toBe(401)
      const challenge = res.headers.get("www-authenticate") ?? ""
      expect(challenge).toContain('error="invalid_token"')
      expect(challenge).toContain(`error_description="${reason}"`)
      expect(challenge).not.toContain(token.slice(0, 20))
    }
    // over 16 KiB: Node's own header limit answers 431 before the verifier (which refuses it too)
    expect([401, 431]).toContain((await initialize(srv.url, { authorization: `Bearer ${"x".repeat(17 * 1024)}` })).status)
  })

  it("fix: several spaces between `Bearer` and the token are accepted (RFC 6750 `\"Bearer\" 1*SP b64token`)", async () => {
    const token = await mint({ sub: "u-3" })
    for (const header of [`Bearer  ${token}`, `bearer    ${token}`]) {
      expect((await initialize(srv.url, { authorization: header })).status, header.slice(0, 12)).toBe(200)
    }
    // a scheme alone, or another scheme, is still refused without an error code
    for (const header of ["Bearer   ", `Bearer\t${token}`]) {
      const res = await initialize(srv.url, { authorization: header })
      expect(res.status).toBe(401)
      expect(res.headers.get("www-authenticate")).not.toContain("error=")
    }
  })

  it("keep: lowercase 'bearer' is accepted; claims reach Effect tools (CurrentUser, CurrentAccessToken) and plain tools (getUser)", async () => {
    const token = await mint({ sub: "u-1", name: "Dev", email: "dev@example.com", scope: "read email" })
    expect((await initialize(srv.url, { authorization: `bearer ${token}` })).status).toBe(200)
    const client = await connect(srv.url, token)
    const me = await client.callTool({ name: "me" })
    expect(me.structuredContent).toMatchObject({ claims: { sub: "u-1", name: "Dev", email: "dev@example.com" }, scopes: ["read", "email"], sub: "u-1" })
    expect((await client.callTool({ name: "me_plain" })).structuredContent).toEqual({ email: "dev@example.com", hasToken: true })
    await client.close()
    // outside a request, getUser() is the empty user and never throws
    expect(McpAuth.getUser().claims).toEqual({})
    expect(McpAuth.getAccessToken()).toBeUndefined()
  })

  it("the bearer token itself is scrubbed if a tool echoes it", async () => {
    const token = await mint({ sub: "u-2" })
    const client = await connect(srv.url, token)
    const res = await client.callTool({ name: "me" })
    expect(JSON.stringify(res)).not.toContain(token)
    await client.close()
  })

  it("per-tool scopes: a call without them is an isError result naming the missing scope", async () => {
    const client = await connect(srv.url, await mint({ sub: "u", scope: "read" }))
    const r = await client.callTool({ name: "admin" })
    expect(r.isError).toBe(true)
    expect((r.content as Array<{ text: string }>)[0]!.text).toContain("admin")
    await client.close()
    const admin = await connect(srv.url, await mint({ sub: "u", scope: "read admin" }))
    expect((await admin.callTool({ name: "admin" })).content).toEqual([{ type: "text", text: "admin ok" }])
    await admin.close()
  })

  it("per-tool scopes: or HTTP 403 insufficient_scope, so the client can step up", async () => {
    const token = await mint({ sub: "u", email: "e@x", scope: "read" })
    const init = await initialize(strict.url, { authorization: `Bearer ${token}` })
    expect(init.status).toBe(200)
    // v1 serves sessions; v2 serves 2025-era requests statelessly (no session id)
    const session = init.headers.get("mcp-session-id")
    expect(session === null).toBe(line.name === "v2")
    const res = await fetch(strict.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        authorization: `Bearer ${token}`,
        ...(session !== null ? { "mcp-session-id": session } : {}),
        "mcp-protocol-version": "2025-06-18"
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "admin", arguments: {} } })
    })
    expect(res.status).toBe(403)
    expect(res.headers.get("www-authenticate")).toBe(
      'Bearer error="insufficient_scope", scope="admin", resource_metadata="http://127.0.0.1/.well-known/oauth-protected-resource/mcp"'
    )
  })

  it("per-tool scopes: the line's real client sees the 403 as a failed call; other tools still run", async () => {
    const client = await connect(strict.url, await mint({ sub: "u", email: "e@x", scope: "read" }))
    await expect(client.callTool({ name: "admin" })).rejects.toThrow()
    expect((await client.callTool({ name: "me_plain" })).structuredContent).toEqual({ email: "e@x", hasToken: true })
    await client.close()
  })

  it("keep: a token without a required claim → 403 missing_scopes (seed shape); email: null passes", async () => {
    const res = await initialize(strict.url, { authorization: `Bearer ${await mint({ name: "Dev" })}` })
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ error: "missing_scopes", missing: [{ scope: "email" }] })
    // fix: RFC 6750 §3: a 403 for the token's shortcomings says so in WWW-Authenticate too
    expect(res.headers.get("www-authenticate")).toBe('Bearer error="insufficient_scope"')
    expect((await initialize(strict.url, { authorization: `Bearer ${await mint({ name: "Dev", email: null })}` })).status).toBe(200)
  })

  it("keep: GET and POST /.well-known/jwks.json → 200 with the public keys, no auth", async () => {
    for (const method of ["GET", "POST"]) {
      const res = await fetch(`${srv.base}/.well-known/jwks.json`, { method })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual(publicKeys)
    }
  })

  it("keep: GET /.well-known/openid-configuration → issuer from the request, jwks_uri, scopes_supported, CORS", async () => {
    const res = await fetch(`${srv.base}/.well-known/openid-configuration`)
    expect(res.status).toBe(200)
    expect(res.headers.get("content-type")).toContain("application/json")
    expect(res.headers.get("access-control-allow-origin")).toBe("*")
    expect(res.headers.get("access-control-allow-methods")).toBe("GET")
    expect(await res.json()).toEqual({ issuer: srv.base, jwks_uri: `${srv.base}/.well-known/jwks.json`, scopes_supported: ["name", "email"] })
    // built from the request's Host: a shared cache must keep one document per host
    expect(res.headers.get("vary")).toBe("Host, X-Forwarded-Proto")
  })

  it("fix: behind a TLS proxy (X-Forwarded-Proto: https) the derived issuer is https", async () => {
    const res = await fetch(`${srv.base}/.well-known/openid-configuration`, { headers: { "x-forwarded-proto": "https" } })
    const host = new URL(srv.base).host
    expect(await res.json()).toEqual({
      issuer: `https://${host}`,
      jwks_uri: `https://${host}/.well-known/jwks.json`,
      scopes_supported: ["name", "email"]
    })
  })

  it("keep: a custom discovery path and a configured issuer with its trailing slash removed", async () => {
    const res = await fetch(`${strict.base}/.well-known/custom-discovery`)
    expect(await res.json()).toEqual({
      issuer: "https://middleware.example.com",
      jwks_uri: "https://middleware.example.com/.well-known/jwks.json",
      scopes_supported: ["email"]
    })
    // a configured issuer does not depend on the request
    expect(res.headers.get("vary")).toBeNull()
  })

  it("RFC 9728: protected-resource metadata at the root and path-suffixed locations", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]) {
      const res = await fetch(`${srv.base}${path}`)
      expect(res.status, path).toBe(200)
      expect(await res.json()).toEqual({
        resource: "http://127.0.0.1/mcp",
        authorization_servers: [ISS],
        scopes_supported: ["admin", "email"],
        bearer_methods_supported: ["header"],
        jwks_uri: "http://127.0.0.1/.well-known/jwks.json"
      })
    }
  })

  it("fix: a CORS preflight of a discovery document gets 204 with the CORS headers (it was 404)", async () => {
    for (const path of ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp", "/.well-known/openid-configuration"]) {
      const res = await fetch(`${srv.base}${path}`, {
        method: "OPTIONS",
        headers: { origin: "http://localhost:6274", "access-control-request-method": "GET", "access-control-request-headers": "mcp-protocol-version" }
      })
      expect(res.status, path).toBe(204)
      expect(res.headers.get("access-control-allow-origin"), path).toBe("*")
      expect(res.headers.get("access-control-allow-headers"), path).toBe("*")
    }
  })

  it("fix: only the MCP endpoint is guarded: HEAD on a well-known path is not a 401", async () => {
    const res = await fetch(`${srv.base}/.well-known/openid-configuration`, { method: "HEAD" })
    expect(res.status).not.toBe(401)
  })
})

describe("McpAuth.scopeDefinitions (seed configuration rules)", () => {
  it("keep: an empty list → error naming 'at least one configured scope'", () => {
    const r = McpAuth.scopeDefinitions([], { atLeastOne: true })
    expect(Either.isLeft(r) && r.left.message).toContain("at least one configured scope")
  })
  it("keep: a duplicate → 'Duplicate scope configured: email'", () => {
    const r = McpAuth.scopeDefinitions([{ scope: "email", description: "E-Mail", description_en: "Email" }, { scope: "email" }])
    expect(Either.isLeft(r) && r.left.message).toContain("Duplicate scope configured: email")
  })
  it("keep: legacy mappings with descriptions keep only the names, in order", () => {
    expect(McpAuth.scopeDefinitions([{ scope: "email", description: "x" }, { scope: " name " }])).toEqual(Either.right(["email", "name"]))
  })
  it("keep: a bare string is refused", () => {
    expect(Either.isLeft(McpAuth.scopeDefinitions(["email"]))).toBe(true)
  })
})

describe("McpAuth — configuration", () => {
  it("a resource that is not an absolute http(s) URL throws AuthConfigError(resource), without quoting it", () => {
    for (const build of [
      (resource: string) => McpAuth.authenticate({ resource }),
      (resource: string) => McpAuth.resourceMetadataUrl(resource),
      (resource: string) => McpAuth.wellKnownRouter({ resource })
    ]) {
      for (const bad of ["not a url secret-ish-value", "/mcp", "ftp://host/mcp"]) {
        let thrown: unknown
        try {
          build(bad)
        } catch (e) {
          thrown = e
        }
        expect((thrown as { _tag?: string })?._tag).toBe("AuthConfigError")
        expect((thrown as { field?: string }).field).toBe("resource")
        expect(String((thrown as Error).message)).not.toContain(bad)
      }
    }
    expect(McpAuth.resourceMetadataUrl("https://mcp.example.com/mcp/")).toBe("https://mcp.example.com/.well-known/oauth-protected-resource/mcp")
  })
})

describe("McpAuth — configured claim and scope names (the seed's rules)", () => {
  const thrown = (f: () => unknown) => {
    try {
      f()
    } catch (e) {
      return e as { _tag?: string; field?: string; message: string }
    }
    return undefined
  }

  it("fix: requiredClaims and scopeDiscovery.scopes refuse a duplicate or an empty name when built, naming the option", () => {
    const duplicate = thrown(() => McpAuth.authenticate({ requiredClaims: ["email", " email "] }))
    expect(duplicate?._tag).toBe("AuthConfigError")
    expect(duplicate?.field).toBe("requiredClaims")
    expect(duplicate?.message).toContain("Duplicate scope configured: email")
    expect(thrown(() => McpAuth.authenticate({ requiredClaims: ["  "] }))?.message).toContain("non-empty")
    const discovery = thrown(() =>
      McpAuth.wellKnownRouter({ resource: "https://mcp.example.com/mcp", scopeDiscovery: { shape: "fhswf-scopes", scopes: ["a", "a"] } })
    )
    expect(discovery?.field).toBe("scopeDiscovery.scopes")
  })

  it("fix: a required claim is trimmed (' name ' is the claim name, which the token carries)", async () => {
    const authenticate = McpAuth.authenticate({ requiredClaims: [" name "] })
    const outcome = await Effect.runPromise(
      authenticate(new Request("https://mcp.example.com/mcp", { method: "POST", headers: { authorization: "Bearer tok" } })).pipe(
        Effect.provideService(
          TokenVerifier.TokenVerifier,
          TokenVerifier.make((token) => Effect.succeed(AccessToken.fromClaims(token, { sub: "u", name: "Ada" })))
        )
      )
    )
    expect(outcome instanceof Response ? outcome.status : "authenticated").toBe("authenticated")
  })
})

describe("McpAuth.authenticate — requiredScopes", () => {
  const run = (scopeClaim: string | undefined, headers: Record<string, string> = { authorization: "Bearer tok" }) =>
    Effect.runPromise(
      McpAuth.authenticate({ resource: "https://mcp.example.com/mcp", requiredScopes: ["mcp:read", " mcp:write "] })(
        new Request("https://mcp.example.com/mcp", { method: "POST", headers })
      ).pipe(
        Effect.provideService(
          TokenVerifier.TokenVerifier,
          TokenVerifier.make((token) =>
            Effect.succeed(AccessToken.fromClaims(token, { sub: "u", ...(scopeClaim === undefined ? {} : { scope: scopeClaim }) }))
          )
        )
      )
    )

  it("401s name the scopes to request; a token without them gets 403 insufficient_scope naming them; with them it passes", async () => {
    const missing = await run(undefined, {})
    expect(missing instanceof Response && missing.status).toBe(401)
    expect((missing as Response).headers.get("www-authenticate")).toBe(
      'Bearer scope="mcp:read mcp:write", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    )
    const partial = await run("mcp:read")
    expect(partial instanceof Response && partial.status).toBe(403)
    expect((partial as Response).headers.get("www-authenticate")).toContain('error="insufficient_scope", scope="mcp:read mcp:write"')
    expect(await (partial as Response).json()).toEqual({ error: "insufficient_scope", scope: "mcp:read mcp:write" })
    const granted = await run("mcp:write mcp:read other")
    expect(granted instanceof Response ? granted.status : "authenticated").toBe("authenticated")
  })

  it("a scope that is no RFC 6749 scope token (a space, a quote) throws AuthConfigError when built", () => {
    for (const bad of ["two words", 'say"hi', "back\\slash"]) {
      let thrown: unknown
      try {
        McpAuth.authenticate({ requiredScopes: [bad] })
      } catch (e) {
        thrown = e
      }
      expect((thrown as { _tag?: string; field?: string })?.field, bad).toBe("requiredScopes")
    }
  })
})

describe("McpAuth.authenticate — AuthInfo.resource", () => {
  it("fix: every AuthInfo gets its own resource URL: a tool that changes one changes neither the next request's nor the check", async () => {
    const resource = "https://mcp.example.com/mcp"
    const authenticate = McpAuth.authenticate({ resource })
    const run = (aud: string) =>
      Effect.runPromise(
        authenticate(new Request(resource, { method: "POST", headers: { authorization: "Bearer tok" } })).pipe(
          Effect.provideService(TokenVerifier.TokenVerifier, TokenVerifier.make((token) => Effect.succeed(AccessToken.fromClaims(token, { sub: "u", aud }))))
        )
      ) as Promise<AccessToken.McpAuthInfo>
    const first = await run(resource)
    expect(first.resource?.href).toBe(resource)
    first.resource!.host = "evil.example" // e.g. a tool changing its extra.authInfo
    const second = await run(resource)
    expect(second.resource?.href).toBe(resource)
    expect(second.resource).not.toBe(first.resource)
    // the audience check still compares against the configured resource
    expect((await run("https://evil.example/mcp")).resource).toBeUndefined()
  })
})

describe("McpAuth — identity in tools from any SDK AuthInfo", () => {
  it("fix: an expiresAt that is no date (Infinity, NaN, past a date's range) is no expiry: toolServices and the accessors never throw", async () => {
    for (const expiresAt of [Infinity, -Infinity, NaN, 1e20]) {
      const tool = { authInfo: Option.some({ token: Redacted.make("t"), clientId: "c", scopes: ["read"], expiresAt, extra: { sub: "u", claims: { email: "a@b.c" } } }) }
      const services = McpAuth.toolServices(tool as unknown as ToolContext.ToolContextShape)
      expect(Context.get(services, AuthUser.CurrentUser).email).toBe("a@b.c")
      const token = Context.get(services, AccessToken.CurrentAccessToken)
      expect(token.expiresAt).toBeUndefined()
      expect(token.subject).toBe("u")
      const [user, current] = await Effect.runPromise(
        Effect.all([McpAuth.currentUser, McpAuth.currentAccessToken]).pipe(Effect.provideService(ToolContext.ToolContext, tool as unknown as ToolContext.ToolContextShape))
      )
      expect(user.email).toBe("a@b.c")
      expect(current.expiresAt).toBeUndefined()
    }
  })
})

describe("McpAuth.authenticate — resource_metadata", () => {
  it("fix: derived from resource when resourceMetadataUrl is not given (the MCP spec requires it in every 401)", async () => {
    const authenticate = McpAuth.authenticate({ resource: "https://mcp.example.com/mcp" })
    const res = await Effect.runPromise(
      authenticate(new Request("https://mcp.example.com/mcp", { method: "POST" })).pipe(
        Effect.provideService(TokenVerifier.TokenVerifier, TokenVerifier.make(() => Effect.die("not called")))
      )
    )
    expect(res instanceof Response && res.status).toBe(401)
    expect((res as Response).headers.get("www-authenticate")).toBe('Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"')
  })
})

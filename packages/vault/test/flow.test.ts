/**
 * The credentials-provider flow end to end, over real HTTP on loopback: a real MCP client (v1 SDK,
 * `elicitation.url` declared or not), the MCP server with `McpAuth`, the credential pages, a real
 * OpenID provider (oidc-provider, dev login) and a fake Jira that checks the PAT. The "browser" is
 * scripted with fetch and a cookie jar (the real-browser test is browser.test.ts). The page cases
 * that follow a call to its end (other user, validation, CSRF, replay) and expiry run on both SDK
 * lines (v2: a v2 client, input-required result and retry); the v1-protocol cases (blocking,
 * fail-fast -32042, elicitation/complete) stay on v1 (mrtr.test.ts has their v2 counterparts).
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js"
import { afterAll, afterEach, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { CredentialsPage, CredentialsProvider, CredentialStore, Elicitation, PendingStore, VaultError } from "../src/index.js"
import {
  aliceFillsTheForm,
  Browser,
  connectClient,
  connectLine,
  errorText,
  formAction,
  hidden,
  type Line,
  LINES,
  startIdp,
  startStack,
  type Stack,
  textOf,
  TOKENS,
  useSuiteStack
} from "./stack.js"

const ALICE_PAT = "pat-alice-0123456789"

let stack: Stack
useSuiteStack({ mode: "blocking" }, (s) => (stack = s))

describe("blocking mode (2025-11-25, elicitation/create mode url)", () => {
  it("keep: no stored credential → URL elicitation → the user signs in and fills the form → the tool runs with the PAT", async () => {
    const c = await connectClient(stack, TOKENS.alice, { url: true, onUrl: aliceFillsTheForm() })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.strictEqual(textOf(result), "Jira says you are Alice Jira")
      assert.notStrictEqual(result.isError, true)
      // one elicitation, URL mode, with an elicitationId and a link under the provider's entry path
      assert.strictEqual(c.elicitations.length, 1)
      const e = c.elicitations[0]!
      assert.strictEqual(e.mode, "url")
      assert.match(String(e.url), new RegExp(`^${stack.baseUrl}/credentials/jira/entry\\?t=[A-Za-z0-9_-]{43}$`))
      assert.isString(e.elicitationId)
      assert.notInclude(String(e.url), String(e.elicitationId))
      assert.include(String(e.message), "Jira credentials required for 'alice'")
      // notifications/elicitation/complete for that id
      await vi.waitFor(() => assert.deepStrictEqual(c.completed, [e.elicitationId]))
      // the downstream API saw the PAT the user entered
      assert.include(stack.api.seen, `Bearer ${ALICE_PAT}`)
      // stored for alice, with a TTL; the next call runs at once without eliciting
      const stored = await stack.runStores(CredentialsProvider.list({ provider: "jira", subject: "alice" }))
      assert.strictEqual(stored.length, 1)
      assert.deepStrictEqual(stored[0]!.fields, ["pat", "base_url"])
      assert.isTrue(Option.isSome(stored[0]!.expiresAt))
      const again = await c.client.callTool({ name: "jira_whoami" })
      assert.strictEqual(textOf(again), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
    } finally {
      await c.close()
    }
  })

  it("fix: two calls of one user at once get a link each; the form of the first also ends the second's wait", async () => {
    let links = 0
    const c = await connectClient(stack, TOKENS.alice, {
      url: true,
      // only the first link is filled in; the second is left open in its tab
      onUrl: (url) => (++links === 1 ? aliceFillsTheForm()(url) : Promise.resolve())
    })
    try {
      const started = Date.now()
      const [a, b] = await Promise.all([c.client.callTool({ name: "jira_whoami" }), c.client.callTool({ name: "jira_whoami" })])
      assert.strictEqual(textOf(a), "Jira says you are Alice Jira")
      assert.strictEqual(textOf(b), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 2)
      assert.isBelow(Date.now() - started, 15_000) // not the 300 s timeout
    } finally {
      await c.close()
    }
  })

  it("keep: a stored credential runs the tool at once (getCredentials() works; the scrubber knows the PAT)", async () => {
    await stack.runStores(CredentialsProvider.store(stack.jira, "alice", { pat: ALICE_PAT, base_url: "" }))
    const c = await connectClient(stack, TOKENS.alice, { url: true })
    try {
      assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
      const echoed = textOf(await c.client.callTool({ name: "jira_echo_pat" }))
      assert.notInclude(echoed, ALICE_PAT)
      assert.include(echoed, "the PAT is")
      assert.strictEqual(c.elicitations.length, 0)
    } finally {
      await c.close()
    }
  })

  it("keep: a declined elicitation → tool error 'not provided'; the link is used up", async () => {
    const c = await connectClient(stack, TOKENS.alice, { url: true, answer: "decline" })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.isTrue(result.isError)
      assert.include(textOf(result), "Jira credentials were not provided or the request timed out")
      const url = String(c.elicitations[0]!.url)
      const page = await new Browser().request(url)
      assert.strictEqual(page.status, 400)
      assert.strictEqual(errorText(page.body), "Invalid or expired credential request.")
    } finally {
      await c.close()
    }
  })

  it("keep: cancel → tool error", async () => {
    const c = await connectClient(stack, TOKENS.alice, { url: true, answer: "cancel" })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.isTrue(result.isError)
      assert.include(textOf(result), "not provided")
    } finally {
      await c.close()
    }
  })

  it("fix: a call without an authenticated sub is refused (no shared '' user)", async () => {
    const c = await connectClient(stack, TOKENS.nosub, { url: true })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.isTrue(result.isError)
      assert.include(textOf(result), "no authenticated user context")
      assert.strictEqual(c.elicitations.length, 0)
    } finally {
      await c.close()
    }
  })

  it("keep: users are isolated: bob's stored PAT is never used for alice", async () => {
    await stack.runStores(CredentialsProvider.store(stack.jira, "bob", { pat: "pat-bob-0123456789", base_url: "" }))
    const c = await connectClient(stack, TOKENS.alice, { url: true, onUrl: aliceFillsTheForm() })
    try {
      assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
    } finally {
      await c.close()
    }
  })
})

/**
 * Starts a credentials request for alice on `line` and returns its link, leaving the call waiting:
 * on v1 the tool call blocks; on v2 it ended input-required and the client's retry waits for the form.
 */
const pendingLink = async (line: Line, s: Stack) => {
  let resolveUrl!: (url: string) => void
  const link = new Promise<string>((r) => (resolveUrl = r))
  const c = await connectLine(line, s, TOKENS.alice, {
    onUrl: async (url) => {
      resolveUrl(url)
    }
  })
  const call = c.callTool("jira_whoami")
  return { c, call, url: await link }
}

// The page behaviours that follow an MCP call to its end run on both SDK lines (the link comes from
// a v1 `elicitation/create` or from a v2 input-required result; the waiting call or retry completes).
describe.each(LINES)("the page on the %s line: identity binding, one-time links, validation before use", (line) => {
  let s: Stack
  beforeAll(async () => {
    s = line === "v1" ? stack : await startStack({ line, mode: "blocking", idp: stack.idp, api: stack.api })
  })
  afterAll(async () => {
    if (line !== "v1") await s?.close()
  })
  afterEach(async () => {
    await s.runStores(CredentialsProvider.revoke("alice"))
    await s.runStores(CredentialsProvider.revoke("bob"))
  })

  it("fix: another user's browser opening alice's link is refused (after signing in); the link stays usable for alice", async () => {
    const { c, call, url } = await pendingLink(line, s)
    try {
      const bob = new Browser()
      const refused = await bob.open(url, "bob")
      assert.strictEqual(refused.status, 403)
      assert.include(errorText(refused.body), "made for a different user")
      assert.notInclude(refused.body, "<form")
      // bob cannot submit either, even with a form he got somewhere
      const alice = new Browser()
      const form = await alice.open(url, "alice")
      const forged = await bob.submit(form, { pat: "pat-bob-0123456789" })
      assert.strictEqual(forged.status, 403)
      // alice completes it
      const done = await alice.submit(form, { pat: ALICE_PAT })
      assert.strictEqual(done.status, 200)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("fix: the wrong-user page's link signs the browser out and asks the identity provider for a new sign-in; signed in as alice, the link shows her form", async () => {
    const { c, call, url } = await pendingLink(line, s)
    try {
      const browser = new Browser()
      const refused = await browser.open(url, "bob")
      assert.strictEqual(refused.status, 403)
      assert.include(errorText(refused.body), "sign out below and sign in as that user")
      assert.include(refused.headers.get("content-security-policy") ?? "", "frame-ancestors 'none'")
      const href = /id="switch-user" href="([^"]*)"/.exec(refused.body)?.[1]
        ?.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&")
      assert.isString(href)
      // reopening the link alone cannot help: the page session is bob's
      assert.strictEqual((await browser.request(url)).status, 403)
      // the link without the session's CSRF token (a page elsewhere) signs nobody out
      const forged = await browser.request(`${s.baseUrl}/credentials/switch-user?next=${encodeURIComponent(new URL(url).pathname)}`)
      assert.strictEqual(forged.status, 403)
      assert.strictEqual((await browser.request(url)).status, 403, "still bob's session")
      // following it: the identity provider asks for a sign-in although bob is signed in there (prompt=login)
      const atIdp = await browser.request(new URL(href!, url).toString())
      assert.include(atIdp.body, 'name="prompt" value="login"')
      assert.strictEqual(new URL([...browser.history].reverse().find((r: { readonly url: string }) => r.url.includes("/auth?"))?.url ?? "http://x/").searchParams.get("prompt"), "login")
      let form = await browser.through(atIdp, "alice")
      // the identity provider ends bob's session there before alice's begins (a form a browser submits by script)
      if (form.body.includes("/session/end/confirm")) {
        form = await browser.through(
          await browser.request(formAction(form.body), { method: "POST", form: { xsrf: hidden(form.body, "xsrf"), logout: "yes" } }),
          "alice"
        )
      }
      assert.strictEqual(form.status, 200)
      assert.include(form.body, 'name="pat"')
      const done = await browser.submit(form, { pat: ALICE_PAT })
      assert.strictEqual(done.status, 200)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("fix: a forwarded link's id presented at the sign-in callback is refused without using up the elicitation", async () => {
    const { c, call, url } = await pendingLink(line, s)
    try {
      const id = new URL(url).searchParams.get("t")!
      const mallory = new Browser()
      const res = await mallory.request(`${s.baseUrl}/credentials/callback?state=${id}&code=${"c".repeat(43)}`, {})
      assert.strictEqual(res.status, 400)
      // the elicitation is still pending: alice completes it
      await aliceFillsTheForm()(url)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("fix: validation happens before the link is used up: a missing field and a refused PAT can be corrected", async () => {
    const { c, call, url } = await pendingLink(line, s)
    try {
      const browser = new Browser()
      const form = await browser.open(url, "alice")
      // security headers
      const csp = form.headers.get("content-security-policy") ?? ""
      assert.include(csp, "frame-ancestors 'none'")
      assert.notInclude(csp, "script-src")
      assert.include(csp, "default-src 'none'")
      assert.strictEqual(form.headers.get("referrer-policy"), "no-referrer")
      assert.strictEqual(form.headers.get("cache-control"), "no-store")
      assert.strictEqual(form.headers.get("content-type"), "text/html; charset=utf-8")
      assert.strictEqual(form.headers.get("x-frame-options"), "DENY")
      assert.notInclude(form.body, "<script")
      assert.include(form.body, "<h1>How to get a PAT</h1>")

      const missing = await browser.submit(form, { base_url: "https://jira.example.com" })
      assert.strictEqual(missing.status, 400)
      assert.include(missing.body, "&#39;Personal access token&#39; is required.")
      assert.include(missing.body, "https:&#47;&#47;jira.example.com") // non-secret values are kept

      const refused = await browser.submit(missing, { pat: "pat-wrong", base_url: "" })
      assert.strictEqual(refused.status, 422)
      assert.strictEqual(errorText(refused.body), "Jira refused this token (401).")
      assert.notInclude(refused.body, "pat-wrong") // a password is never echoed back

      const badUrl = await browser.submit(refused, { pat: ALICE_PAT, base_url: "javascript:alert(1)" })
      assert.strictEqual(badUrl.status, 400)

      const done = await browser.submit(badUrl, { pat: `  ${ALICE_PAT} `, base_url: "", undeclared: "ignored" })
      assert.strictEqual(done.status, 200)
      assert.include(done.body, "Credentials saved")
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
      // keep (case 29): values trimmed, an empty optional field stored as "", undeclared fields ignored
      const stored = await s.runStores(Effect.flatMap(CredentialStore.CredentialStore, (store) => store.get({ provider: "jira", subject: "alice" })))
      const fields = Option.getOrThrow(stored).credential
      assert.deepStrictEqual(
        fields.type === "static" ? Object.fromEntries(Object.entries(fields.fields).map(([k, v]) => [k, Redacted.value(v)])) : {},
        { pat: ALICE_PAT, base_url: "" }
      )

      // keep: the same link submitted twice → the second is refused
      const replay = await browser.submit(form, { pat: ALICE_PAT })
      assert.strictEqual(replay.status, 400)
      const reopen = await browser.request(url)
      assert.strictEqual(reopen.status, 400)
    } finally {
      await c.close()
    }
  })

  it("fix: CSRF — a submit without the session's token, or from another origin, is refused", async () => {
    const { c, call, url } = await pendingLink(line, s)
    try {
      const browser = new Browser()
      const form = await browser.open(url, "alice")
      const noToken = await browser.submit(form, { pat: ALICE_PAT }, { csrf: "forged-token" })
      assert.strictEqual(noToken.status, 403)
      const crossSite = await browser.submit(form, { pat: ALICE_PAT }, { headers: { origin: "https://evil.example" } })
      assert.strictEqual(crossSite.status, 403)
      const noSession = await new Browser().submit(form, { pat: ALICE_PAT })
      assert.strictEqual(noSession.status, 403)
      assert.strictEqual((await browser.submit(form, { pat: ALICE_PAT })).status, 200)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })
})

// Page-only behaviours (the sign-in redirect and cookies, malformed links, the sign-in bound to its
// browser): the MCP line only supplies the link, so they run on v1 alone.
describe("an identity provider whose issuer ends in \"/\" (as Auth0's does)", () => {
  it("fix: the sign-in verifies its id_token (iss compared exactly with the discovery document's issuer) and the flow completes", async () => {
    const idp = await startIdp({ trailingSlash: true })
    assert.isTrue(idp.issuer.endsWith("/"))
    const own = await startStack({ mode: "blocking", idp })
    try {
      const c = await connectClient(own, TOKENS.alice, { url: true, onUrl: aliceFillsTheForm() })
      try {
        assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
      } finally {
        await c.close()
      }
    } finally {
      await own.close()
      await idp.close()
    }
  })
})

describe("the page: sign-in, malformed links", () => {
  it("fix: the link is never pre-authenticated: opening it first sends the browser to the identity provider", async () => {
    const { c, call, url } = await pendingLink("v1", stack)
    try {
      const browser = new Browser()
      const first = await browser.request(url.replace("/entry", "/entry"), {})
      // after the redirects we land on the IdP's login page, not on a form of ours
      assert.include(first.url, stack.idp.issuer)
      assert.include(first.body, 'name="prompt" value="login"')
      const redirect = browser.history[0]!
      assert.strictEqual(redirect.status, 302)
      const authorize = new URL(redirect.headers.get("location")!)
      assert.strictEqual(authorize.searchParams.get("code_challenge_method"), "S256")
      assert.isString(authorize.searchParams.get("state"))
      assert.isString(authorize.searchParams.get("nonce"))
      assert.strictEqual(authorize.searchParams.get("client_id"), "mcp-credentials-page")
      const setCookie = redirect.headers.getSetCookie().join("\n")
      assert.match(setCookie, /mcpc_login=[^;]+;.*HttpOnly/i)
      assert.match(setCookie, /SameSite=Lax/i)
      assert.match(setCookie, /Path=\/credentials/)
      // the sign-in ends with the session cookie: HttpOnly, SameSite=Lax, scoped to /credentials
      const form = await browser.open(url, "alice")
      assert.strictEqual(form.status, 200)
      const session = browser.history.flatMap((r) => r.headers.getSetCookie()).find((c) => c.startsWith("mcpc_session="))
      assert.isDefined(session)
      assert.match(session!, /HttpOnly/i)
      assert.match(session!, /SameSite=Lax/i)
      assert.match(session!, /Path=\/credentials(;|$)/)
      assert.strictEqual((await browser.submit(form, { pat: ALICE_PAT })).status, 200)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("fix: a form body over 64 KB is refused with 413 before it is all read (it was buffered whole, then refused)", async () => {
    const { c, call, url } = await pendingLink("v1", stack)
    const ended = call.catch(() => undefined)
    try {
      const browser = new Browser()
      const form = await browser.open(url, "alice")
      assert.strictEqual(form.status, 200)
      const big = await browser.submit(form, { pat: "x".repeat(200 * 1024) })
      assert.strictEqual(big.status, 413)
      // the link is still good: the form can be sent again
      assert.strictEqual((await browser.submit(form, { pat: ALICE_PAT })).status, 200)
      assert.strictEqual(textOf(await ended), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("fix: a browser that carries two session cookies (one planted by a sibling subdomain) is treated as signed out", async () => {
    const { c, call, url } = await pendingLink("v1", stack)
    // never answered: the form is not sent (closing the client ends it)
    call.catch(() => undefined)
    try {
      const alice = new Browser()
      const form = await alice.open(url, "alice")
      assert.strictEqual(form.status, 200)
      const sessionIdOf = (b: Browser) =>
        b.history.flatMap((r) => r.headers.getSetCookie()).find((c) => c.startsWith("mcpc_session="))!.split(";")[0]!.split("=")[1]!
      // bob, signed in on his own, plants his session cookie in alice's browser (first: a longer path)
      const bob = new Browser()
      assert.strictEqual((await bob.open(`${stack.baseUrl}/credentials/jira/connect`, "bob")).status, 200)
      const res = await fetch(`${stack.baseUrl}/credentials/jira/connect`, {
        headers: { cookie: `mcpc_session=${sessionIdOf(bob)}; mcpc_session=${sessionIdOf(alice)}` },
        redirect: "manual"
      })
      assert.strictEqual(res.status, 302)
      assert.include(res.headers.get("location") ?? "", stack.idp.issuer, "sent to sign in again, not given a link as bob")
    } finally {
      await c.close()
    }
  })

  it("keep (cases 23, 24, 27): tampered, unknown and malformed links are refused", async () => {
    const { c, call, url } = await pendingLink("v1", stack)
    try {
      const browser = new Browser()
      const t = new URL(url).searchParams.get("t")!
      const tampered = url.replace(t, t.slice(0, -2) + (t.endsWith("AA") ? "BB" : "AA"))
      for (const bad of [tampered, `${stack.baseUrl}/credentials/jira/entry`, `${stack.baseUrl}/credentials/jira/entry?t=x`]) {
        const page = await browser.request(bad)
        assert.strictEqual(page.status, 400, bad)
        assert.notInclude(page.body, "<form")
      }
      await aliceFillsTheForm()(url)
      await call
    } finally {
      await c.close()
    }
  })

  it("fix: the sign-in is bound to the browser that started it (state + cookie)", async () => {
    const { c, call, url } = await pendingLink("v1", stack)
    try {
      const starter = new Browser()
      await starter.request(url)
      const authorize = starter.history[0]!.headers.get("location")!
      // another browser continuing the same sign-in lands on a refusal
      const other = new Browser()
      const page = await other.open(authorize, "alice")
      assert.strictEqual(page.status, 400)
      assert.include(errorText(page.body), "not started in this browser")
      await aliceFillsTheForm()(url)
      await call
    } finally {
      await c.close()
    }
  })
})

describe.each(LINES)("expiry on the %s line", (line) => {
  it("keep: an expired link is refused (the blocking call, or the v2 retry, ends with 'not provided')", async () => {
    const short = await startStack({ line, mode: "blocking", timeout: "1 second", idp: stack.idp, api: stack.api })
    try {
      let link = ""
      const c = await connectLine(line, short, TOKENS.alice, {
        onUrl: async (u) => {
          link = u
        }
      })
      try {
        const result = await c.callTool("jira_whoami")
        assert.isTrue(result.isError)
        assert.include(textOf(result), "not provided or the request timed out")
        const page = await new Browser().open(link, "alice")
        assert.strictEqual(page.status, 400)
        assert.strictEqual(errorText(page.body), "Invalid or expired credential request.")
      } finally {
        await c.close()
      }
    } finally {
      await short.close()
    }
  })
})

describe("expiry without a waiter (fail-fast)", () => {
  it("fix: a form opened before the link expired cannot be submitted after (the seed's pop ignored the TTL)", async () => {
    const short = await startStack({ mode: "failFast", timeout: "1 second" })
    try {
      const c = await connectClient(short, TOKENS.alice, { url: true })
      try {
        const error = await c.client.callTool({ name: "jira_whoami" }).then(() => undefined, (e: unknown) => e)
        const url = (error as UrlElicitationRequiredError).elicitations[0]!.url
        const browser = new Browser()
        const form = await browser.open(url, "alice")
        assert.strictEqual(form.status, 200)
        await new Promise((r) => setTimeout(r, 1200))
        const late = await browser.submit(form, { pat: ALICE_PAT })
        assert.strictEqual(late.status, 400)
        assert.strictEqual(errorText(late.body), "Invalid or expired credential request.")
        assert.strictEqual((await browser.request(url)).status, 400)
        const stored = await short.runStores(CredentialsProvider.list({ subject: "alice" }))
        assert.strictEqual(stored.length, 0)
      } finally {
        await c.close()
      }
    } finally {
      await short.close()
    }
  })
})

describe("fail-fast mode (-32042) and clients without URL elicitation", () => {
  let ff: Stack
  beforeAll(async () => {
    ff = await startStack({ mode: "failFast" })
  })
  afterAll(async () => {
    await ff?.close()
  })

  it("keep: fail-fast → JSON-RPC -32042 with the elicitation in its data; after the form, the retry succeeds", async () => {
    const c = await connectClient(ff, TOKENS.alice, { url: true })
    try {
      const error = await c.client.callTool({ name: "jira_whoami" }).then(() => undefined, (e: unknown) => e)
      assert.instanceOf(error, UrlElicitationRequiredError)
      const e = error as UrlElicitationRequiredError
      assert.strictEqual(e.code, -32042)
      assert.strictEqual(e.elicitations.length, 1)
      const elicitation = e.elicitations[0]!
      assert.strictEqual(elicitation.mode, "url")
      assert.match(elicitation.url, /\/credentials\/jira\/entry\?t=/)
      assert.include(elicitation.message, "Jira credentials required for 'alice'")
      assert.strictEqual(c.elicitations.length, 0) // no elicitation/create request in this mode

      await aliceFillsTheForm()(elicitation.url)
      // the session that failed fast is told the elicitation is complete
      await vi.waitFor(() => assert.deepStrictEqual(c.completed, [elicitation.elicitationId]))
      const retry = await c.client.callTool({ name: "jira_whoami" })
      assert.strictEqual(textOf(retry), "Jira says you are Alice Jira")
    } finally {
      await c.close()
      await ff.runStores(CredentialsProvider.revoke("alice"))
    }
  })

  it("fix: a client without URL elicitation gets a tool error naming the connect page, not a one-time link", async () => {
    const c = await connectClient(ff, TOKENS.alice, { url: false })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.isTrue(result.isError)
      const text = textOf(result)
      const connect = `${ff.baseUrl}/credentials/jira/connect`
      assert.include(text, "Jira credentials are required")
      assert.include(text, connect)
      assert.notInclude(text, "entry?t=")
      // nothing pending was created for it
      // the connect page asks for a sign-in, then shows a fresh form for the signed-in user
      const browser = new Browser()
      const anonymous = await new Browser().request(connect)
      assert.include(anonymous.url, ff.idp.issuer)
      const form = await browser.open(connect, "alice")
      assert.strictEqual(form.status, 200)
      assert.include(form.body, "Signed in as")
      assert.strictEqual((await browser.submit(form, { pat: ALICE_PAT })).status, 200)
      assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
    } finally {
      await c.close()
      await ff.runStores(CredentialsProvider.revoke("alice"))
    }
  })

  it("keep: invalidate(sub) → the next call elicits again", async () => {
    await ff.runStores(CredentialsProvider.store(ff.jira, "alice", { pat: ALICE_PAT, base_url: "" }))
    const c = await connectClient(ff, TOKENS.alice, { url: true })
    try {
      assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
      assert.isTrue(await ff.runStores(CredentialsProvider.invalidate(ff.jira, "alice")))
      const error = await c.client.callTool({ name: "jira_whoami" }).then(() => undefined, (e: unknown) => e)
      assert.instanceOf(error, UrlElicitationRequiredError)
      // the pending entry exists for alice
      const t = new URL((error as UrlElicitationRequiredError).elicitations[0]!.url).searchParams.get("t")!
      const entry = await ff.runStores(Effect.flatMap(PendingStore.PendingStore, (p) => p.get(t)))
      assert.isTrue(Option.isSome(entry) && entry.value.subject === "alice")
    } finally {
      await c.close()
    }
  })
})

describe("a credential store that fails at the submit", () => {
  it("fix: the page answers 503 and the link stays usable: once the store is back, the same form completes the waiting call", async () => {
    let failing = false
    const flaky = Layer.effect(
      CredentialStore.CredentialStore,
      Effect.map(CredentialStore.makeMemory, (store) => ({
        ...store,
        set: (...args: Parameters<typeof store.set>) =>
          failing ? Effect.fail(new VaultError.StoreError({ backend: "memory", operation: "set", cause: new Error("down") })) : store.set(...args)
      }))
    )
    const s = await startStack({ mode: "blocking", idp: stack.idp, api: stack.api, stores: Layer.merge(flaky, PendingStore.layerMemory) })
    const { c, call, url } = await pendingLink("v1", s)
    try {
      const browser = new Browser()
      const form = await browser.open(url, "alice")
      failing = true
      const down = await browser.submit(form, { pat: ALICE_PAT })
      assert.strictEqual(down.status, 503)
      failing = false
      const done = await browser.submit(form, { pat: ALICE_PAT })
      assert.strictEqual(done.status, 200)
      assert.strictEqual(textOf(await call), "Jira says you are Alice Jira")
    } finally {
      await c.close()
      await s.close()
    }
  })
})

describe("the page on https: __Host- cookies", () => {
  it("fix: on an https base URL the sign-in cookies are __Host- cookies (Secure, Path=/), which no sibling subdomain or plain-http page can plant", async () => {
    const idp = await startIdp()
    const baseUrl = "https://mcp.example.test"
    await idp.configure(CredentialsPage.redirectUri({ baseUrl }))
    const router = CredentialsPage.router({
      baseUrl,
      providers: [CredentialsProvider.make({ name: "jira", variables: { pat: { label: "PAT", type: "password" } } })],
      oidc: { issuer: idp.issuer, clientId: "mcp-credentials-page", clientSecret: Redacted.make("page-client-secret-0123456789abcdef") }
    })
    const layer = Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, Elicitation.layer2025_11_25)
    const { dispose, handler } = HttpApp.toWebHandlerLayer(Effect.runSync(HttpRouter.toHttpApp(router)) as any, layer as any)
    try {
      const res = await handler(new Request(`${baseUrl}/credentials/jira/connect`))
      assert.strictEqual(res.status, 302)
      const cookie = res.headers.getSetCookie().join("\n")
      assert.match(cookie, /^__Host-mcpc_login=[^;]+;/)
      assert.match(cookie, /Path=\/(;|$)/)
      assert.match(cookie, /Secure/)
      assert.notMatch(cookie, /Domain=/i)
    } finally {
      await dispose()
      await idp.close()
    }
  })
})

describe("an identity provider that answers malformed documents", () => {
  it("fix: a token answer that is no JSON object and endpoint URLs that are no URLs give the pages' error pages (with their headers), not a bare 500", async () => {
    // a stub: a real OpenID provider cannot answer like this
    let discovery: Record<string, string> = {}
    let tokenBody = "null"
    const idp = createServer((req, res) => {
      if (req.url === "/.well-known/openid-configuration") {
        res.writeHead(200, { "content-type": "application/json" })
        return res.end(JSON.stringify(discovery))
      }
      if (req.url === "/token") {
        res.writeHead(200, { "content-type": "application/json" })
        return res.end(tokenBody)
      }
      res.writeHead(404).end()
    })
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r))
    const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`
    const good = { issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }
    const baseUrl = "http://127.0.0.1:9"
    // a fresh router for each case: the OpenID client keeps a discovery document that worked
    const serve = () => {
      const router = CredentialsPage.router({
        baseUrl,
        providers: [CredentialsProvider.make({ name: "jira", variables: { pat: { label: "PAT", type: "password" } } })],
        oidc: { issuer, clientId: "mcp-credentials-page", clientSecret: Redacted.make("page-client-secret-0123456789abcdef") }
      })
      const layer = Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, Elicitation.layer2025_11_25)
      return HttpApp.toWebHandlerLayer(Effect.runSync(HttpRouter.toHttpApp(router)) as any, layer as any)
    }
    const withPageHeaders = (res: Response) => {
      assert.include(res.headers.get("content-security-policy") ?? "", "frame-ancestors 'none'")
      assert.strictEqual(res.headers.get("cache-control"), "no-store")
    }
    try {
      // the token endpoint answers 200 with `null`, an array, a string: "could not be verified"
      for (const body of ["null", "[]", "\"id_token\""]) {
        discovery = good
        tokenBody = body
        const { dispose, handler } = serve()
        try {
          const start = await handler(new Request(`${baseUrl}/credentials/jira/connect`))
          assert.strictEqual(start.status, 302)
          const state = new URL(start.headers.get("location")!).searchParams.get("state")!
          const login = start.headers.getSetCookie().find((c) => c.startsWith("mcpc_login="))!.split(";")[0]!
          const res = await handler(new Request(`${baseUrl}/credentials/callback?state=${state}&code=a-code`, { headers: { cookie: login } }))
          assert.strictEqual(res.status, 400, body)
          assert.strictEqual(errorText(await res.text()), "The sign-in could not be verified. Open the link again.")
          withPageHeaders(res)
        } finally {
          await dispose()
        }
      }
      // discovery names an endpoint that is no http(s) URL: the sign-in cannot start (503 page)
      for (const [field, value] of [["authorization_endpoint", "not a url"], ["token_endpoint", "javascript:alert(1)"], ["jwks_uri", "::"]] as const) {
        discovery = { ...good, [field]: value }
        const { dispose, handler } = serve()
        try {
          const res = await handler(new Request(`${baseUrl}/credentials/jira/connect`))
          assert.strictEqual(res.status, 503, field)
          assert.strictEqual(errorText(await res.text()), "The credential service is unavailable right now. Try again later.")
          withPageHeaders(res)
        } finally {
          await dispose()
        }
      }
    } finally {
      idp.closeAllConnections()
      await new Promise((r) => idp.close(r))
    }
  })
})

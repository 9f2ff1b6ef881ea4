/**
 * URL elicitation on the 2026-07-28 protocol (multi-round-trip requests), end to end over real
 * HTTP on loopback: a real v2 client (`@modelcontextprotocol/client`, pinned to 2026-07-28), the
 * v2 server line (`McpCredentialsV2` + `McpHttpServerV2`, `McpAuth`), the credential pages, a real
 * OpenID provider (oidc-provider, dev login) and a fake Jira that checks the PAT.
 *
 * The tool call ends with an input-required result (a URL elicitation for the identity-bound page
 * and a sealed `requestState`); the client's retry carries the `requestState` back; tampered,
 * expired, replayed, other-user and other-call states are refused; a retry on a second replica
 * sharing Redis succeeds (skipped with a printed reason when Redis is absent, failed instead when
 * MCP_CREDENTIALS_REQUIRE_SERVICES=1).
 */
import { afterAll, afterEach, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import * as crypto from "node:crypto"
import { CredentialsProvider, Elicitation, Keyring, PendingStore } from "../src/index.js"
import * as RedisStore from "../src/RedisStore.js"
import {
  aliceFillsTheForm,
  Browser,
  connectClient,
  connectClientV2,
  errorText,
  type Stack,
  startStack,
  textOf,
  TOKENS,
  useSuiteStack
} from "./stack.js"
import { deleteRedisPrefix, probeRedis, redisUrl, required } from "./services.js"

const ALICE_PAT = "pat-alice-0123456789"

let stack: Stack
useSuiteStack({ line: "v2" }, (s) => (stack = s))

interface InputRequiredValue {
  readonly resultType: "input_required"
  readonly inputRequests: Record<string, { method: string; params: { mode: string; message: string; url: string } }>
  readonly requestState: string
}

/** One leg without the client's auto-fulfilment: the input-required value as received. */
const firstLeg = async (client: any, name = "jira_whoami"): Promise<InputRequiredValue> => {
  const result = await client.callTool({ name }, { allowInputRequired: true })
  assert.strictEqual(result.resultType, "input_required", JSON.stringify(result).slice(0, 300))
  return result as InputRequiredValue
}

/** A manual retry leg carrying `requestState` (and the client's answers). */
const retry = (client: any, requestState: string, name = "jira_whoami", inputResponses?: Record<string, unknown>) =>
  client.callTool({ name, requestState, ...(inputResponses !== undefined ? { inputResponses } : {}) }, { allowInputRequired: true })

/** Flips one character of the sealed part of a request state. */
const tamper = (state: string) => {
  const i = state.length - 10
  return state.slice(0, i) + (state[i] === "A" ? "B" : "A") + state.slice(i + 1)
}

describe("2026-07-28 URL elicitation (input-required result + requestState)", () => {
  it("input-required URL elicitation → the user signs in and fills the form → the client's retry runs the tool with the PAT", async () => {
    const c = await connectClientV2(stack, TOKENS.alice, { onUrl: aliceFillsTheForm() })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.strictEqual(textOf(result), "Jira says you are Alice Jira")
      assert.notStrictEqual(result.isError, true)
      // one embedded URL elicitation pointing at the identity-bound entry page; no elicitationId
      assert.strictEqual(c.elicitations.length, 1)
      const e = c.elicitations[0]!
      assert.strictEqual(e.mode, "url")
      assert.match(String(e.url), new RegExp(`^${stack.baseUrl}/credentials/jira/entry\\?t=[A-Za-z0-9_-]{43}$`))
      assert.isUndefined(e.elicitationId)
      assert.include(String(e.message), "Jira credentials required for 'alice'")
      // the downstream API saw the PAT the user entered; stored for alice; the next call runs at once
      assert.include(stack.api.seen, `Bearer ${ALICE_PAT}`)
      const stored = await stack.runStores(CredentialsProvider.list({ provider: "jira", subject: "alice" }))
      assert.strictEqual(stored.length, 1)
      assert.isTrue(Option.isSome(stored[0]!.expiresAt))
      assert.strictEqual(textOf(await c.client.callTool({ name: "jira_whoami" })), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
      // the scrubber still knows the PAT
      const echoed = textOf(await c.client.callTool({ name: "jira_echo_pat" }))
      assert.notInclude(echoed, ALICE_PAT)
    } finally {
      await c.close()
    }
  })

  it("the user finishes the form before the client retries: the retry runs at once", async () => {
    const c = await connectClientV2(stack, TOKENS.alice, { onUrl: aliceFillsTheForm(), awaitBrowser: true })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.strictEqual(textOf(result), "Jira says you are Alice Jira")
    } finally {
      await c.close()
    }
  })

  it("the input-required result carries an opaque requestState: no user, no link, no secret", async () => {
    const c = await connectClientV2(stack, TOKENS.alice)
    try {
      const first = await firstLeg(c.client)
      assert.deepStrictEqual(Object.keys(first.inputRequests), ["jira"])
      assert.strictEqual(first.inputRequests.jira!.method, "elicitation/create")
      const url = first.inputRequests.jira!.params.url
      const pendingId = new URL(url).searchParams.get("t")!
      assert.match(first.requestState, /^v1\.[^.]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
      for (const leak of ["alice", pendingId, url, "jira"]) assert.notInclude(first.requestState, leak)
    } finally {
      await c.close()
    }
  })

  it("a declined URL elicitation ends the retry with a clear error", async () => {
    const c = await connectClientV2(stack, TOKENS.alice, { answer: "decline" })
    try {
      const result = await c.client.callTool({ name: "jira_whoami" })
      assert.isTrue(result.isError)
      assert.strictEqual(textOf(result), "Jira credentials were not provided or the request timed out. Please try again.")
      assert.strictEqual(c.elicitations.length, 1)
      // the link is used up
      const pendingId = new URL(String(c.elicitations[0]!.url)).searchParams.get("t")!
      const entry = await stack.runStores(Effect.flatMap(PendingStore.PendingStore, (p) => p.get(pendingId)))
      assert.isTrue(Option.isNone(entry))
    } finally {
      await c.close()
    }
  })

  it("tampered, other-user and other-call requestStates are refused (without using it up); the right retry runs; a replay is refused", async () => {
    const alice = await connectClientV2(stack, TOKENS.alice)
    const bob = await connectClientV2(stack, TOKENS.bob)
    const logged: Array<string> = []
    const log = vi.spyOn(console, "log").mockImplementation((...args: Array<unknown>) => void logged.push(args.map(String).join(" ")))
    try {
      const first = await firstLeg(alice.client)

      const tampered = await retry(alice.client, tamper(first.requestState))
      assert.isTrue(tampered.isError)
      assert.match(textOf(tampered), /^The requestState is not valid/)

      const garbage = await retry(alice.client, "not-a-state")
      assert.isTrue(garbage.isError)
      assert.match(textOf(garbage), /^The requestState is not valid/)

      const otherUser = await retry(bob.client, first.requestState)
      assert.isTrue(otherUser.isError)
      assert.strictEqual(textOf(otherUser), "The requestState was issued to another user")

      const otherCall = await retry(alice.client, first.requestState, "jira_echo_pat")
      assert.isTrue(otherCall.isError)
      assert.match(textOf(otherCall), /^The requestState was issued for another call/)
      assert.notInclude(textOf(otherCall), ALICE_PAT)

      // the user completes the page; the legitimate retry runs
      await aliceFillsTheForm()(first.inputRequests.jira!.params.url)
      const ok = await retry(alice.client, first.requestState, "jira_whoami", { jira: { action: "accept" } })
      assert.strictEqual(textOf(ok), "Jira says you are Alice Jira")

      // single-use: the same state again is refused, though the credential is stored
      const replayed = await retry(alice.client, first.requestState)
      assert.isTrue(replayed.isError)
      assert.strictEqual(textOf(replayed), "The requestState was already used; call the tool again")

      // every refusal was logged, and no log line holds the state, the link or the PAT
      assert.isAbove(logged.filter((l) => l.includes("RequestState")).length, 3)
      const pendingId = new URL(first.inputRequests.jira!.params.url).searchParams.get("t")!
      for (const line of logged) {
        for (const secret of [first.requestState, first.requestState.split(".")[3]!, pendingId, ALICE_PAT]) {
          assert.notInclude(line, secret)
        }
      }
    } finally {
      log.mockRestore()
      await alice.close()
      await bob.close()
    }
  })

  it("an expired requestState is refused", async () => {
    const short = await startStack({ line: "v2", timeout: "1 second", idp: stack.idp, api: stack.api })
    const c = await connectClientV2(short, TOKENS.alice)
    try {
      const first = await firstLeg(c.client)
      await new Promise((resolve) => setTimeout(resolve, 1300))
      const expired = await retry(c.client, first.requestState)
      assert.isTrue(expired.isError)
      assert.match(textOf(expired), /^The requestState expired at .*; call the tool again$/)
    } finally {
      await c.close()
      await short.close()
    }
  })
})

// -- two replicas sharing Redis -------------------------------------------------------------------

const redisPrefix = `mcv-mrtr:${crypto.randomBytes(4).toString("hex")}:`

const redisReason = await probeRedis()

afterAll(async () => {
  if (redisReason === undefined) await deleteRedisPrefix(redisPrefix)
})

if (redisReason !== undefined && !required) console.log(`[vault mrtr tests] redis replicas skipped: ${redisReason}`)

describe("2026-07-28 replicas over redis", () => {
  if (redisReason !== undefined) {
    if (required) it("the service is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => assert.fail(redisReason))
    return
  }
  it("the call starts on replica A, the form is submitted to A, the retry goes to replica B and runs; a replay on A is refused", async () => {
    const keyring = Keyring.layer(Redacted.make(Keyring.generateSpec("mrtr")))
    const stores = () => RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix }).pipe(Layer.provide(keyring))
    const a = await startStack({ line: "v2", stores: stores(), keyring })
    const b = await startStack({ line: "v2", stores: stores(), keyring, idp: a.idp, api: a.api })
    const onA = await connectClientV2(a, TOKENS.alice)
    const onB = await connectClientV2(b, TOKENS.alice)
    try {
      const first = await firstLeg(onA.client)
      assert.isTrue(first.inputRequests.jira!.params.url.startsWith(a.baseUrl))
      // the retry reaches B before the form is in: B waits for it (pub/sub) and then runs
      const retried = retry(onB.client, first.requestState, "jira_whoami", { jira: { action: "accept" } })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await aliceFillsTheForm()(first.inputRequests.jira!.params.url)
      const ok = await retried
      assert.strictEqual(textOf(ok), "Jira says you are Alice Jira", JSON.stringify(ok).slice(0, 300))
      // used up on B, so refused on A
      const replayed = await retry(onA.client, first.requestState)
      assert.isTrue(replayed.isError)
      assert.strictEqual(textOf(replayed), "The requestState was already used; call the tool again")
      await a.runStores(CredentialsProvider.revoke("alice"))
    } finally {
      await onA.close()
      await onB.close()
      await b.close()
      await a.close()
    }
  })
})

// -- the same flow on both SDK lines ---------------------------------------------------------------

/** A client of either line: v1 (2025-11-25, blocking URL elicitation) or v2 (2026-07-28, MRTR). */
const connectLine = async (
  line: "v1" | "v2",
  s: Stack,
  token: string,
  options: { readonly url?: boolean; readonly onUrl?: (url: string) => Promise<void>; readonly answer?: "accept" | "decline" | "cancel" } = {}
) => {
  if (line === "v1") {
    const c = await connectClient(s, token, { url: options.url ?? true, ...options })
    return { callTool: (name: string) => c.client.callTool({ name }), elicitations: c.elicitations, close: c.close }
  }
  const c = await connectClientV2(s, token, options)
  return { callTool: (name: string) => c.client.callTool({ name }) as Promise<any>, elicitations: c.elicitations, close: c.close }
}

describe.each(["v1", "v2"] as const)("the credentials flow on the %s line", (line) => {
  let s: Stack
  beforeAll(async () => {
    // one layer for both lines: the era is chosen per call (v1 → 2025-11-25, v2 → 2026-07-28)
    s = await startStack({ line, elicitation: Elicitation.layer, idp: stack.idp, api: stack.api })
  })
  afterAll(async () => {
    await s?.close()
  })
  afterEach(async () => {
    await s.runStores(CredentialsProvider.revoke("alice"))
    await s.runStores(CredentialsProvider.revoke("bob"))
  })

  it("no stored credential → URL elicitation of the entry page → the user signs in and fills the form → the tool runs with the PAT", async () => {
    const c = await connectLine(line, s, TOKENS.alice, { onUrl: aliceFillsTheForm() })
    try {
      assert.strictEqual(textOf(await c.callTool("jira_whoami")), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
      assert.strictEqual(c.elicitations[0]!.mode, "url")
      assert.match(String(c.elicitations[0]!.url), new RegExp(`^${s.baseUrl}/credentials/jira/entry\\?t=`))
      // 2025-11-25 (v1) names the elicitation; 2026-07-28 (v2) has no elicitationId
      assert.strictEqual(typeof c.elicitations[0]!.elicitationId, line === "v1" ? "string" : "undefined")
      assert.include(s.api.seen, `Bearer ${ALICE_PAT}`)
      assert.strictEqual(textOf(await c.callTool("jira_whoami")), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
    } finally {
      await c.close()
    }
  })

  it("a stored credential runs the tool at once; the scrubber knows the PAT", async () => {
    await s.runStores(CredentialsProvider.store(s.jira, "alice", { pat: ALICE_PAT, base_url: "" }))
    const c = await connectLine(line, s, TOKENS.alice)
    try {
      assert.strictEqual(textOf(await c.callTool("jira_whoami")), "Jira says you are Alice Jira")
      const echoed = textOf(await c.callTool("jira_echo_pat"))
      assert.include(echoed, "the PAT is")
      assert.notInclude(echoed, ALICE_PAT)
      assert.strictEqual(c.elicitations.length, 0)
    } finally {
      await c.close()
    }
  })

  it("a declined elicitation → tool error 'not provided'; the link is used up", async () => {
    const c = await connectLine(line, s, TOKENS.alice, { answer: "decline" })
    try {
      const result = await c.callTool("jira_whoami")
      assert.isTrue(result.isError)
      assert.include(textOf(result), "Jira credentials were not provided or the request timed out")
      const page = await new Browser().request(String(c.elicitations[0]!.url))
      assert.strictEqual(page.status, 400)
    } finally {
      await c.close()
    }
  })

  it("a call without an authenticated sub is refused before any elicitation", async () => {
    const c = await connectLine(line, s, TOKENS.nosub)
    try {
      const result = await c.callTool("jira_whoami")
      assert.isTrue(result.isError)
      assert.include(textOf(result), "no authenticated user context")
      assert.strictEqual(c.elicitations.length, 0)
    } finally {
      await c.close()
    }
  })

  it("users are isolated: bob's stored PAT is never used for alice", async () => {
    await s.runStores(CredentialsProvider.store(s.jira, "bob", { pat: "pat-bob-0123456789", base_url: "" }))
    const c = await connectLine(line, s, TOKENS.alice, { onUrl: aliceFillsTheForm() })
    try {
      assert.strictEqual(textOf(await c.callTool("jira_whoami")), "Jira says you are Alice Jira")
      assert.strictEqual(c.elicitations.length, 1)
    } finally {
      await c.close()
    }
  })

  it("a client without URL elicitation gets a tool error naming the connect page, not a one-time link", async () => {
    const c = await connectLine(line, s, TOKENS.alice, { url: false })
    try {
      const result = await c.callTool("jira_whoami")
      assert.isTrue(result.isError)
      assert.include(textOf(result), `${s.baseUrl}/credentials/jira/connect`)
      assert.notInclude(textOf(result), "entry?t=")
    } finally {
      await c.close()
    }
  })
})

/**
 * mcpauthkit's CredentialsProvider and memory-store cases (seed-behaviour.md §3.6), each marked
 * `keep:` (same behaviour) or `fix:` (deliberately different, see §3.9). The seed's MockContext is
 * here a hand-made `ToolContext` (a unit fake); the flows with a real client, IdP and browser are
 * in flow.test.ts, replicas.test.ts and browser.test.ts. Cases 23–30 and 35 (the routes, and the
 * completion sent on submit) are covered there; this file names where.
 */
import { assert, describe, it } from "@effect/vitest"
import { CredentialBackend, CredentialError } from "@mcp-credentials/core"
import { McpCredentials, ToolContext } from "@mcp-credentials/server"
import { Context, Duration, Effect, Either, Exit, Fiber, Layer, Option, Redacted } from "effect"
import {
  CredentialsPage,
  CredentialsProvider,
  CredentialStore,
  Elicitation,
  PendingStore
} from "../src/index.js"
import * as Html from "../src/internal/html.js"

const confluence = CredentialsProvider.make({
  name: "confluence",
  variables: {
    pat: { type: "password", required: true, hint: "ATBBxyz" },
    base_url: { type: "url", required: false }
  },
  timeout: "5 seconds"
})
const BASE = "http://localhost:8005"

type Answer = "accept" | "decline" | "cancel" | "throw"

/** The seed's MockContext as a ToolContext: answers URL elicitations, records completions. */
const fakeTool = (options: {
  readonly sub?: string | undefined
  readonly url?: boolean
  readonly answer?: Answer
  readonly onElicit?: (params: Readonly<Record<string, unknown>>) => Effect.Effect<void>
  readonly notifyFails?: boolean
}) => {
  const elicited: Array<Readonly<Record<string, unknown>>> = []
  const completed: Array<unknown> = []
  const tool: ToolContext.ToolContextShape = {
    toolName: "confluence_search",
    headers: {},
    authInfo: options.sub === undefined
      ? Option.none()
      : Option.some({ token: Redacted.make("t"), clientId: "c", scopes: [], extra: { sub: options.sub, claims: { sub: options.sub } } }),
    sessionId: Option.none(),
    requestId: 1,
    signal: new AbortController().signal,
    progress: () => Effect.void,
    log: () => Effect.void,
    clientCapabilities: options.url === false ? { elicitation: { form: {} } } : { elicitation: { url: {} } },
    requestDigest: "digest",
    elicit: (params) =>
      Effect.gen(function*() {
        elicited.push(params)
        if (options.answer === "throw") return yield* Effect.fail(new ToolContext.ElicitationError("not supported"))
        if (options.onElicit !== undefined) yield* options.onElicit(params)
        return { action: options.answer ?? "accept" }
      }),
    notify: (_method, params) =>
      options.notifyFails ? Effect.die(new Error("send_elicit_complete failed")) : Effect.sync(() => void completed.push(params.elicitationId))
  }
  return { tool, elicited, completed }
}

const stores = Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, Elicitation.layer2025_11_25)
const withProvider = (mode: Elicitation.Mode, provider = confluence) =>
  CredentialsProvider.layer(provider, { baseUrl: `${BASE}/`, mode }).pipe(Layer.provideMerge(stores))

const resolve = (tool: ToolContext.ToolContextShape | undefined) =>
  Effect.flatMap(CredentialBackend.named("confluence"), (backend) => {
    const r = backend.resolve({ kind: "static", user: { subject: "alice" } })
    return tool === undefined ? r : Effect.provideService(r, ToolContext.ToolContext, tool)
  })

const fieldsOf = (c: unknown) =>
  Object.fromEntries(Object.entries((c as { fields: Record<string, Redacted.Redacted<string>> }).fields).map(([k, v]) => [k, Redacted.value(v)]))

/** Stores creds for alice and completes the pending entry of the link, in the background. */
const submitInBackground = (params: Readonly<Record<string, unknown>>, fields: Record<string, string>) =>
  Effect.gen(function*() {
    const t = new URL(String(params.url)).searchParams.get("t")!
    const store = yield* CredentialStore.CredentialStore
    const pending = yield* PendingStore.PendingStore
    yield* Effect.fork(
      Effect.gen(function*() {
        yield* Effect.sleep("30 millis")
        yield* CredentialsProvider.store(confluence, "alice", fields).pipe(Effect.provideService(CredentialStore.CredentialStore, store))
        yield* pending.complete(t, { status: "stored" })
      }).pipe(Effect.orDie)
    )
  })

describe("CredentialsProvider (seed §3.6, test_credentials_provider.py)", () => {
  it("fix 1–3: the guide is Markdown given as text (no file read at construction); none → no guide", () => {
    assert.isTrue(Option.isNone(confluence.guide))
    const withGuide = CredentialsProvider.make({ ...{ name: "c", variables: { k: {} } }, guide: "# How to get a PAT" })
    assert.deepStrictEqual(withGuide.guide, Option.some("# How to get a PAT"))
    assert.include(Html.renderGuide("# How to get a PAT"), "<h1>How to get a PAT</h1>")
  })

  it("keep 4–5: variables map to input types (password, url, text) with their required flags and defaults", () => {
    const [pat, baseUrl] = confluence.variables
    assert.deepStrictEqual(pat, { name: "pat", label: "pat", type: "password", hint: "ATBBxyz", required: true })
    assert.deepStrictEqual(baseUrl, { name: "base_url", label: "base_url", type: "url", hint: "", required: false })
    const html = Html.formPage("n", confluence, "/x", "csrf", "alice")
    assert.match(html, /<input id="f-pat" type="password" name="pat"[^>]* required>/)
    assert.match(html, /<input id="f-base_url" type="url" name="base_url"[^>]*autocomplete="off">/)
    const plain = CredentialsProvider.make({ name: "k", variables: { key: { type: "string" } } })
    assert.match(Html.formPage("n", plain, "/x", "c", "u"), /type="text" name="key"/)
  })

  it("keep 6: the open paths are /credentials/<name>/entry and /submit (+ fix: /connect for clients without URL elicitation)", () => {
    assert.deepStrictEqual(CredentialsProvider.paths(confluence), {
      entry: "/credentials/confluence/entry",
      submit: "/credentials/confluence/submit",
      connect: "/credentials/confluence/connect"
    })
    assert.strictEqual(CredentialsPage.redirectUri({ baseUrl: `${BASE}/` }), `${BASE}/credentials/callback`)
  })

  it("keep 7: the entry URL is <base>/credentials/<name>/entry?t=<token> (trailing / of the base removed)", () => {
    assert.strictEqual(
      CredentialsProvider.entryUrl(confluence, { baseUrl: `${BASE}//` }, "tok123"),
      `${BASE}/credentials/confluence/entry?t=tok123`
    )
  })

  it("fix 8: getCredentials() outside a tool call throws NoCredentialInScopeError (not None)", () => {
    try {
      McpCredentials.getCredentials("confluence")
      assert.fail("expected a throw")
    } catch (e) {
      assert.isTrue(CredentialError.isCredentialError(e))
      assert.strictEqual((e as { _tag: string })._tag, "NoCredentialInScopeError")
    }
  })

  it.effect("keep 9: set creds for alice, invalidate → get returns nothing", () =>
    Effect.gen(function*() {
      yield* CredentialsProvider.store(confluence, "alice", { pat: "p" })
      assert.isTrue(yield* CredentialsProvider.invalidate(confluence, "alice"))
      const store = yield* CredentialStore.CredentialStore
      assert.isTrue(Option.isNone(yield* store.get({ provider: "confluence", subject: "alice" })))
      assert.isFalse(yield* CredentialsProvider.invalidate(confluence, "alice"))
    }).pipe(Effect.provide(CredentialStore.layerMemory)))

  it.effect("keep 10–11: a pending entry holds the sub; a random 256-bit id unless one is given", () =>
    Effect.gen(function*() {
      const pending = yield* PendingStore.PendingStore
      const e = yield* pending.create({ provider: "confluence", subject: "alice", data: { elicitationId: "elicit-1" } }, "5 seconds")
      assert.match(e.id, /^[A-Za-z0-9_-]{43}$/)
      const got = yield* pending.get(e.id)
      assert.isTrue(Option.isSome(got) && got.value.subject === "alice" && got.value.data.elicitationId === "elicit-1")
      const fixed = yield* pending.create({ id: "fixed-tok", provider: "confluence", subject: "alice" }, "5 seconds")
      assert.strictEqual(fixed.id, "fixed-tok")
    }).pipe(Effect.provide(PendingStore.layerMemory)))

  it.scopedLive("keep 12/16/18: a stored credential is returned at once, without eliciting (both modes)", () =>
    Effect.gen(function*() {
      for (const mode of ["blocking", "failFast"] as const) {
        const ctx = yield* Layer.build(withProvider(mode))
        yield* CredentialsProvider.store(confluence, "alice", { pat: "cached-pat" }).pipe(Effect.provide(ctx))
        const fake = fakeTool({ sub: "alice" })
        const credential = yield* resolve(fake.tool).pipe(Effect.provide(ctx))
        assert.deepStrictEqual(fieldsOf(credential), { pat: "cached-pat" })
        assert.strictEqual(fake.elicited.length, 0)
      }
    }))

  it.scopedLive("fix 13: no user (or a token without sub) → NoAuthenticatedUserError, never a shared '' entry", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const none = yield* Effect.either(resolve(fakeTool({ sub: undefined }).tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(none) && (none.left as { _tag: string })._tag === "NoAuthenticatedUserError")
      assert.include(Either.isLeft(none) ? none.left.message : "", "no authenticated user context")
      const empty = yield* Effect.either(resolve(fakeTool({ sub: "" }).tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(empty))
    }))

  it.scopedLive("keep 14/17: fail-fast with no credential → UrlElicitationRequiredError (-32042, elicitation in data)", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("failFast"))
      const fake = fakeTool({ sub: "alice" })
      const result = yield* Effect.either(resolve(fake.tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(result))
      const e = (result as Either.Left<any, any>).left as Elicitation.UrlElicitationRequiredError
      assert.strictEqual(e._tag, "UrlElicitationRequiredError")
      assert.strictEqual(e.message, "confluence credentials required.")
      const rpc = e[ToolContext.JsonRpcErrorTypeId]
      assert.strictEqual(rpc.code, -32042)
      const [el] = (rpc.data as { elicitations: Array<{ mode: string; url: string; elicitationId: string; message: string }> }).elicitations
      assert.strictEqual(el!.mode, "url")
      assert.match(el!.url, /^http:\/\/localhost:8005\/credentials\/confluence\/entry\?t=/)
      assert.strictEqual(el!.message, "confluence credentials required for 'alice'.\nOpen the link and fill in your credentials.")
      assert.strictEqual(fake.elicited.length, 0)
    }))

  it.scopedLive("keep 15/20: a cancelled or declined elicitation → 'not provided or timed out'; the pending entry is removed", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      for (const answer of ["cancel", "decline"] as const) {
        const fake = fakeTool({ sub: "alice", answer })
        const r = yield* Effect.either(resolve(fake.tool).pipe(Effect.provide(ctx)))
        assert.isTrue(Either.isLeft(r))
        assert.include((r as Either.Left<any, any>).left.message, "were not provided or the request timed out")
        const t = new URL(String(fake.elicited[0]!.url)).searchParams.get("t")!
        const pending = Context.get(ctx, PendingStore.PendingStore)
        assert.isTrue(Option.isNone(yield* pending.get(t)))
      }
    }))

  it.scopedLive("keep 19: blocking, accepted; the form is submitted in the background → the creds, and one completion", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const fake = fakeTool({
        sub: "alice",
        onElicit: (params) => submitInBackground(params, { pat: "submitted-pat" }).pipe(Effect.provide(ctx))
      })
      const credential = yield* resolve(fake.tool).pipe(Effect.provide(ctx))
      assert.deepStrictEqual(fieldsOf(credential), { pat: "submitted-pat" })
      assert.strictEqual(fake.elicited.length, 1)
      assert.deepStrictEqual(fake.completed, [fake.elicited[0]!.elicitationId])
      assert.strictEqual(fake.elicited[0]!.mode, "url")
    }))

  it.scopedLive("fix 21–22/33: no form-mode fallback: a client without URL elicitation gets the connect page, no link in any message", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const fake = fakeTool({ sub: "alice", url: false })
      const r = yield* Effect.either(resolve(fake.tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(r))
      const e = (r as Either.Left<any, any>).left
      assert.strictEqual(e._tag, "CredentialsRequiredError")
      assert.include(e.message, `${BASE}/credentials/confluence/connect`)
      assert.notInclude(e.message, "?t=")
      assert.strictEqual(fake.elicited.length, 0)
    }))

  it.scopedLive("fix 10 (§3.9 item 10): a client error on elicitation/create is 'not provided', not a second prompt", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const fake = fakeTool({ sub: "alice", answer: "throw" })
      const r = yield* Effect.either(resolve(fake.tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(r) && (r.left as { reason?: string }).reason === "failed")
      assert.strictEqual(fake.elicited.length, 1)
    }))

  it.scopedLive("keep 32: accepted but never submitted → 'not provided' once the timeout passes", () =>
    Effect.gen(function*() {
      const short = CredentialsProvider.make({ name: "confluence", variables: { pat: {} }, timeout: "1 second" })
      const ctx = yield* Layer.build(withProvider("blocking", short))
      const r = yield* Effect.either(resolve(fakeTool({ sub: "alice" }).tool).pipe(Effect.provide(ctx)))
      assert.isTrue(Either.isLeft(r) && (r.left as { reason?: string }).reason === "timeout")
    }))

  it.scopedLive("fix 32 (§3.9 item 11): a timeout under 1 s is a configuration error, not a TTL of 0", () =>
    Effect.gen(function*() {
      const tiny = CredentialsProvider.make({ name: "confluence", variables: { pat: {} }, timeout: Duration.millis(100) })
      const exit = yield* Effect.exit(Layer.build(withProvider("blocking", tiny)))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "timeout")
    }))

  it.scopedLive("keep 34: the completion notification failing does not lose the creds", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const fake = fakeTool({
        sub: "alice",
        notifyFails: true,
        onElicit: (params) => submitInBackground(params, { pat: "submitted-pat" }).pipe(Effect.provide(ctx))
      })
      const credential = yield* resolve(fake.tool).pipe(Effect.provide(ctx))
      assert.deepStrictEqual(fieldsOf(credential), { pat: "submitted-pat" })
    }))

  it.scopedLive("fix: interrupting a waiting call (client cancellation) uses the link up", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(withProvider("blocking"))
      const fake = fakeTool({ sub: "alice" })
      const fiber = yield* Effect.fork(resolve(fake.tool).pipe(Effect.provide(ctx)))
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(fiber)
      const t = new URL(String(fake.elicited[0]!.url)).searchParams.get("t")!
      assert.isTrue(Option.isNone(yield* Context.get(ctx, PendingStore.PendingStore).get(t)))
    }))

  it.effect("fix (§3.9 item 6): providers sharing one store do not collide: entries are keyed by provider and sub", () =>
    Effect.gen(function*() {
      const github = CredentialsProvider.make({ name: "github", variables: { token: {} } })
      yield* CredentialsProvider.store(confluence, "alice", { pat: "c" })
      yield* CredentialsProvider.store(github, "alice", { token: "g" })
      const all = yield* CredentialsProvider.list({ subject: "alice" })
      assert.deepStrictEqual(all.map((i) => `${i.provider}:${i.fields.join(",")}`).sort(), ["confluence:pat", "github:token"])
      assert.strictEqual(yield* CredentialsProvider.revoke("alice"), 2)
      assert.strictEqual((yield* CredentialsProvider.list()).length, 0)
    }).pipe(Effect.provide(CredentialStore.layerMemory)))

  it.effect("fix: a provider name that would break paths is refused when its layer is built", () =>
    Effect.gen(function*() {
      const bad = CredentialsProvider.make({ name: "My API/../x", variables: { k: {} } })
      const e = yield* Effect.flip(CredentialsProvider.check(bad))
      assert.strictEqual(e.field, "name")
    }))

  // routes (cases 23–30, 35) are in flow.test.ts: "tampered, unknown and malformed links",
  // "validation happens before the link is used up" (28 fixed, 29, 30) and "fail-fast …" (35)
})

describe("memory store (seed §3.6, test_memory.py)", () => {
  const key = { provider: "confluence", subject: "alice" }
  const layer = Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory)

  it.effect("keep 1–6: miss, round trip, overwrite, delete, delete missing, users isolated", () =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.CredentialStore
      const cred = (pat: string) => ({ type: "static", fields: { pat: Redacted.make(pat) } }) as any
      assert.isTrue(Option.isNone(yield* store.get(key)))
      yield* store.set(key, cred("a"))
      yield* store.set(key, cred("b"))
      const got = yield* store.get(key)
      assert.strictEqual(Option.isSome(got) && Redacted.value((got.value.credential as any).fields.pat), "b")
      yield* store.set({ ...key, subject: "bob" }, cred("bob"))
      assert.isTrue(yield* store.delete(key))
      assert.isFalse(yield* store.delete(key))
      assert.isTrue(Option.isNone(yield* store.get(key)))
      assert.isTrue(Option.isSome(yield* store.get({ ...key, subject: "bob" })))
    }).pipe(Effect.provide(layer)))

  it.effect("keep 7–11: pending create/get/take; take removes; misses are None", () =>
    Effect.gen(function*() {
      const pending = yield* PendingStore.PendingStore
      const e = yield* pending.create({ id: "k-1", provider: "confluence", subject: "alice", data: { x: 1 } }, "5 seconds")
      const got = yield* pending.get("k-1")
      assert.isTrue(Option.isSome(got) && got.value.subject === "alice" && got.value.data.x === 1)
      assert.isTrue(Option.isNone(yield* pending.get("missing")))
      assert.strictEqual(Option.getOrThrow(yield* pending.take(e.id)).subject, "alice")
      assert.isTrue(Option.isNone(yield* pending.take(e.id)))
      assert.isTrue(Option.isNone(yield* pending.take("missing")))
    }).pipe(Effect.provide(layer)))

  it.live("fix 12: an expired entry is gone for get AND take (the seed's pop ignored the TTL)", () =>
    Effect.gen(function*() {
      const pending = yield* PendingStore.PendingStore
      yield* pending.create({ id: "k-2", provider: "p", subject: "alice" }, "1 millis")
      yield* Effect.sleep("10 millis")
      assert.isTrue(Option.isNone(yield* pending.take("k-2")))
      yield* pending.create({ id: "k-3", provider: "p", subject: "alice" }, "1 millis")
      yield* Effect.sleep("10 millis")
      assert.isTrue(Option.isNone(yield* pending.get("k-3")))
    }).pipe(Effect.provide(layer)))

  it.live("keep 13–15: await gets a result completed 50 ms later; a 50 ms timeout gives None; an unknown id gives None", () =>
    Effect.gen(function*() {
      const pending = yield* PendingStore.PendingStore
      yield* pending.create({ id: "k-4", provider: "p", subject: "alice" }, "5 seconds")
      yield* Effect.fork(Effect.zipRight(Effect.sleep("50 millis"), pending.complete("k-4", { access_token: "tok" })))
      assert.deepStrictEqual(yield* pending.await("k-4", "3 seconds"), Option.some({ access_token: "tok" }))
      assert.isTrue(Option.isNone(yield* pending.await("k-4", "50 millis")))
      assert.isTrue(Option.isNone(yield* pending.await("unknown", "50 millis")))
    }).pipe(Effect.provide(layer)))
})

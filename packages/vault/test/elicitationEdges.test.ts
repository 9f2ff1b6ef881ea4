/**
 * Edges of the URL elicitation flow found by review: the blocking wait and the client's answer
 * are bounded by the link's own lifetime, and a `validate` that throws before it returns its
 * effect is contained like any other defect.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import { McpAuth, StaticTokenVerifier } from "@mcp-credentials/auth"
import { CredentialMiddleware, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentialsV2, McpHttpServerV2 } from "@mcp-credentials/server"
import * as ToolContext from "@mcp-credentials/server/ToolContext"
import { McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import { Cause, Context, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Scope } from "effect"
import { createServer } from "node:http"
import { vi } from "vitest"
import { CredentialsPage, CredentialsProvider, CredentialStore, Elicitation, Keyring, PendingStore } from "../src/index.js"
import { Browser, errorText, PAGE_CLIENT, startIdp, TOKENS } from "./stack.js"

const provider = (name: string, timeout: Duration.DurationInput = "30 seconds") =>
  CredentialsProvider.make({ name, title: name.toUpperCase(), variables: { pat: { type: "password" } }, timeout })

const toolContext = (over: Partial<ToolContext.ToolContextShape> & { sub?: string }): ToolContext.ToolContextShape => ({
  toolName: "t",
  headers: {},
  authInfo: over.sub === undefined ? Option.none() : Option.some({
    token: Redacted.make("tok"), clientId: "c", scopes: [], extra: { sub: over.sub, claims: { sub: over.sub } }
  }),
  sessionId: Option.none(),
  requestId: 1,
  signal: new AbortController().signal,
  progress: () => Effect.void,
  log: () => Effect.void,
  elicit: () => Effect.succeed({ action: "accept" as const }),
  clientCapabilities: { elicitation: { url: {} } },
  requestDigest: "digest-1",
  ...over
})

/** The providers' backends over memory stores and the given elicitation (blocking mode). */
const buildApp = (
  providers: ReadonlyArray<CredentialsProvider.CredentialsProvider>,
  elicitation: Layer.Layer<Elicitation.Elicitation, never, Keyring.Keyring | PendingStore.PendingStore>
) => {
  const base = Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, Keyring.layer(Redacted.make(Keyring.generateSpec("t"))))
  const shared = elicitation.pipe(Layer.provideMerge(base))
  const backends = providers.map((p) => CredentialsProvider.layer(p, { baseUrl: "https://mcp.example", mode: "blocking" }))
  return Layer.mergeAll(backends[0]!, ...backends.slice(1)).pipe(Layer.provideMerge(shared))
}

const resolve = (names: ReadonlyArray<string>, tc: ToolContext.ToolContextShape) =>
  CredentialMiddleware.resolveAll(names.map((name) => ({ name, kind: "static" as const })), {}).pipe(
    Effect.provideService(ToolContext.ToolContext, tc)
  )


describe("2026-07-28: a tool that declares two providers", () => {
  /** What the page does when the user submits a provider's form: store, then complete the link. */
  const submit = (name: string, pendingId: string) =>
    Effect.gen(function*() {
      const store = yield* CredentialStore.CredentialStore
      const pending = yield* PendingStore.PendingStore
      yield* store.set({ provider: name, subject: "alice" }, ResolvedCredential.StaticCredential.fromFields({ pat: `pat-${name}-0123456789` }))
      const taken = yield* pending.take(pendingId)
      assert.isTrue(Option.isSome(taken), `${name}'s link is still usable`)
      yield* pending.complete(pendingId, { status: "stored" })
    })
  const modern = { sub: "alice", protocolVersion: "2026-07-28" }
  /** The client's retry of a call that ended with `asked`: its state, and the user's acceptance. */
  const retrying = (asked: Elicitation.InputRequiredError) =>
    toolContext({ ...modern, requestState: asked.requestState, inputResponses: { [asked.key]: { action: "accept" } } })
  /** The one-time link's id in the URL the user was given. */
  const linkOf = (asked: Elicitation.InputRequiredError) => new URL(asked.url).searchParams.get("t")!
  const inputRequest = (exit: Exit.Exit<unknown, unknown>) => {
    assert.isTrue(Exit.isFailure(exit))
    const e = Option.getOrThrow(Cause.failureOption((exit as Exit.Failure<unknown, unknown>).cause)) as Elicitation.InputRequiredError
    assert.strictEqual(e._tag, "InputRequiredError")
    return e
  }

  it.live("fix: the retry that resumes one provider's form waits for it while the other asks; the call completes (it never did: each round used the other's link up)", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(buildApp([provider("jira"), provider("conf")], Elicitation.layer))
      const run = <A, E>(e: Effect.Effect<A, E, any>) => Effect.exit(Effect.provide(e, ctx)) as Effect.Effect<Exit.Exit<A, E>>
      const first = inputRequest(yield* run(resolve(["jira", "conf"], toolContext(modern))))
      const firstName = first.key.includes("jira") ? "jira" : "conf"
      const other = firstName === "jira" ? "conf" : "jira"
      // the retry resumes the first provider's link (the user has the page open) while the other asks
      const retry = yield* Effect.fork(run(resolve(["jira", "conf"], retrying(first))))
      yield* Effect.sleep("300 millis")
      yield* Effect.provide(submit(firstName, linkOf(first)), ctx)
      const second = inputRequest(yield* Fiber.join(retry))
      assert.include(second.key, other, "then the other provider is asked for")
      // the third round resumes the other; the user submits it; both credentials resolve
      const third = yield* Effect.fork(run(resolve(["jira", "conf"], retrying(second))))
      yield* Effect.sleep("300 millis")
      yield* Effect.provide(submit(other, linkOf(second)), ctx)
      const done = yield* Fiber.join(third)
      assert.isTrue(Exit.isSuccess(done), String(done))
      if (Exit.isSuccess(done)) assert.deepStrictEqual([...done.value.keys()].sort(), ["conf", "jira"])
    }).pipe(Effect.scoped))

  it.live("fix: a retry's wait cut short by the client (its request timeout) leaves the link usable; what the page stores serves the next call", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(buildApp([provider("jira")], Elicitation.layer))
      const run = <A, E>(e: Effect.Effect<A, E, any>) => Effect.exit(Effect.provide(e, ctx)) as Effect.Effect<Exit.Exit<A, E>>
      const first = inputRequest(yield* run(resolve(["jira"], toolContext(modern))))
      const retry = yield* Effect.fork(run(resolve(["jira"], retrying(first))))
      yield* Effect.sleep("300 millis")
      yield* Fiber.interrupt(retry) // the client gave up waiting
      yield* Effect.provide(submit("jira", linkOf(first)), ctx)
      const next = yield* run(resolve(["jira"], toolContext(modern)))
      assert.isTrue(Exit.isSuccess(next), String(next))
    }).pipe(Effect.scoped))
})

describe("blocking URL elicitation: bounded by the link's lifetime", () => {
  it.live("fix: the wait for the form ends when the link does, not a full timeout after the client answered", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(buildApp([provider("jira", "1 second")], Elicitation.layer2025_11_25))
      const tc = toolContext({ sub: "alice", elicit: () => Effect.as(Effect.sleep("2 seconds"), { action: "accept" as const }) })
      const started = Date.now()
      const exit = yield* Effect.exit(Effect.provide(resolve(["jira"], tc), ctx))
      const took = Date.now() - started
      assert.isTrue(Exit.isFailure(exit))
      // the link died at ~1 s, the client answered at ~2 s: nothing can complete the call after that
      assert.isBelow(took, 2500, `waited ${took} ms for a link that expired after 1000 ms`)
    }).pipe(Effect.scoped))

  it.live("fix: the client is given the link's lifetime to answer elicitation/create (the SDK's own default is 60 s)", () =>
    Effect.gen(function*() {
      const ctx = yield* Layer.build(buildApp([provider("jira", "5 minutes")], Elicitation.layer2025_11_25))
      const seen: Array<Duration.DurationInput | undefined> = []
      const tc = toolContext({
        sub: "alice",
        elicit: (_params, options) => {
          seen.push(options?.timeout)
          return Effect.succeed({ action: "decline" as const })
        }
      })
      yield* Effect.exit(Effect.provide(resolve(["jira"], tc), ctx))
      assert.strictEqual(seen.length, 1)
      const ms = Duration.toMillis(Duration.decode(seen[0]!))
      assert.isTrue(ms > 290_000 && ms <= 300_000, `${ms}`)
    }).pipe(Effect.scoped))
})

const SECRET = "pat-SECRET-VALUE-0123456789"

describe("CredentialsPage: a validate that throws", () => {
  it("fix: a validate that throws before returning its effect is contained like a defect: the form again (422), the value never logged (it was a bare 500)", async () => {
    const logged: Array<string> = []
    for (const m of ["log", "warn", "info", "error"] as const) {
      vi.spyOn(console, m).mockImplementation((...a: Array<unknown>) => void logged.push(a.map((x) => (x instanceof Error ? `${x.message} ${x.stack}` : String(x))).join(" ")))
    }
    const idp = await startIdp()
    const jira = CredentialsProvider.make({
      name: "jira",
      variables: { pat: { type: "password" } },
      validate: (fields) => {
        const pat = Redacted.value(fields.pat!)
        if (!pat.startsWith("ATBB")) throw new Error(`not a Jira token: ${pat}`)
        return Effect.void
      }
    })
    const scope = Effect.runSync(Scope.make())
    const httpCtx = await Effect.runPromise(Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope))
    const baseUrl = `http://127.0.0.1:${(Context.get(httpCtx, HttpServer.HttpServer).address as any).port}`
    await idp.configure(CredentialsPage.redirectUri({ baseUrl }))
    const shared = Elicitation.layer.pipe(Layer.provideMerge(Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, Keyring.layer(Redacted.make(Keyring.generateSpec("k"))))))
    const app = Layer.mergeAll(
      CredentialsProvider.layer(jira, { baseUrl }),
      StaticTokenVerifier.layer({ tokens: [{ token: Redacted.make(TOKENS.alice), clientId: "c", subject: "alice", claims: { sub: "alice" } }] })
    ).pipe(Layer.provideMerge(shared))
    const oidc = { issuer: idp.issuer, clientId: PAGE_CLIENT.id, clientSecret: Redacted.make(PAGE_CLIENT.secret) }
    const serving = McpHttpServerV2.serve({
      server: (runtime: any) => {
        const server = new McpServerV2({ name: "v", version: "1" })
        McpCredentialsV2.install(server, { runtime, context: McpAuth.toolServices })
        return server
      },
      allowedHosts: McpHttpServerV2.localhostNames,
      authenticate: McpAuth.authenticate({}),
      routes: CredentialsPage.router({ baseUrl, providers: [jira], oidc })
    })
    await Effect.runPromise(Layer.buildWithScope(serving.pipe(Layer.provideMerge(app), Layer.provide(Layer.succeedContext(httpCtx))), scope))
    try {
      const b = new Browser()
      const form = await b.open(`${baseUrl}/credentials/jira/connect`, "alice")
      assert.strictEqual(form.status, 200, form.body.slice(0, 300))
      const done = await b.submit(form, { pat: SECRET })
      await new Promise((r) => setTimeout(r, 200))
      const leaks = logged.filter((l) => l.includes(SECRET))
      console.info = () => undefined
      assert.include(errorText(done.body), "could not be checked")
      assert.strictEqual(done.status, 422)
      assert.strictEqual(leaks.length, 0)
    } finally {
      vi.restoreAllMocks()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      await idp.close()
    }
  }, 60_000)
})

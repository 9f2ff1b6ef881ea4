/**
 * A browser that goes away after submitting the form (its request interrupted while the store
 * writes) does not cut the submission short: the credential is stored and the waiting call is
 * woken, not left with a used-up link until its timeout. The page is served as a web handler
 * (`HttpApp.toWebHandlerLayer`, which interrupts the handler when the request is aborted); the
 * sign-in session is seeded in the memory PendingStore as the callback would leave it.
 */
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option, Redacted } from "effect"
import { CredentialsPage, CredentialsProvider, CredentialStore, Elicitation, PendingStore } from "../src/index.js"

describe("the credential form: a browser that goes away mid-submit", () => {
  it("the credential is stored and the waiting call woken", { timeout: 20_000 }, async () => {
    const baseUrl = "http://127.0.0.1:9"
    const jira = CredentialsProvider.make({ name: "jira", variables: { pat: { label: "PAT", type: "password" } } })
    const pending = await Effect.runPromise(PendingStore.makeMemory)
    const memory = await Effect.runPromise(CredentialStore.makeMemory)
    let writes = 0
    // a store that takes a moment to write: the browser goes away meanwhile
    const slow = CredentialStore.CredentialStore.of({
      ...memory,
      set: (key, credential, options) =>
        Effect.zipRight(Effect.sleep("150 millis"), Effect.tap(memory.set(key, credential, options), () => Effect.sync(() => writes++)))
    })
    const router = CredentialsPage.router({
      baseUrl,
      providers: [jira],
      oidc: { issuer: "http://127.0.0.1:9/idp", clientId: "page", clientSecret: Redacted.make("page-secret-0123456789") }
    })
    const layer = Layer.mergeAll(
      Layer.succeed(CredentialStore.CredentialStore, slow),
      Layer.succeed(PendingStore.PendingStore, pending),
      Elicitation.layer2025_11_25.pipe(Layer.provide(Layer.succeed(PendingStore.PendingStore, pending)))
    )
    const { dispose, handler } = HttpApp.toWebHandlerLayer(Effect.runSync(HttpRouter.toHttpApp(router)) as any, layer as any)
    try {
      const session = await Effect.runPromise(pending.create({ provider: "__session", subject: "alice", data: { csrf: "csrf-token-0123456789abcdef" } }, "10 minutes"))
      const link = await Effect.runPromise(pending.create({ provider: "jira", subject: "alice", data: {} }, "10 minutes"))
      const waiting = Effect.runPromise(pending.await(link.id, "10 seconds"))
      const aborted = new AbortController()
      const submitted = handler(new Request(`${baseUrl}/credentials/jira/submit?t=${link.id}`, {
        method: "POST",
        headers: { cookie: `mcpc_session=${session.id}`, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ _csrf: "csrf-token-0123456789abcdef", pat: "pat-alice-0123456789" }),
        signal: aborted.signal
      })).catch(() => undefined)
      await new Promise((r) => setTimeout(r, 50))
      aborted.abort()
      await submitted
      const result = await waiting
      assert.deepStrictEqual(Option.getOrUndefined(result), { status: "stored" })
      assert.strictEqual(writes, 1)
      const stored = await Effect.runPromise(memory.get({ provider: "jira", subject: "alice" }))
      assert.isTrue(Option.isSome(stored))
    } finally {
      await dispose()
    }
  })
})

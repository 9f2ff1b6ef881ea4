import { assert, describe, it } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { Config, ConfigProvider, Effect, Fiber, Layer, Option, Redacted, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CredentialStore, FileStore, Keyring, PendingStore } from "../src/index.js"
import { keyA } from "./contract.js"

const cred = ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-unit" })
const key = { provider: "github", subject: "alice" }

describe("memory backend (TestClock)", () => {
  it.effect("credential and pending TTLs follow the Clock", () =>
    Effect.gen(function*() {
      const cs = yield* CredentialStore.CredentialStore
      const ps = yield* PendingStore.PendingStore
      yield* cs.set(key, cred, { ttl: "10 minutes" })
      const entry = yield* ps.create({ provider: "github", subject: "alice" }, "5 minutes")
      yield* TestClock.adjust("4 minutes")
      assert.isTrue(Option.isSome(yield* ps.get(entry.id)))
      yield* TestClock.adjust("2 minutes")
      assert.isTrue(Option.isNone(yield* ps.take(entry.id)))
      assert.isTrue(Option.isSome(yield* cs.get(key)))
      yield* TestClock.adjust("5 minutes")
      assert.isTrue(Option.isNone(yield* cs.get(key)))
    }).pipe(Effect.provide(Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory))))

  it.effect("await under TestClock: times out, or resolves on complete", () =>
    Effect.gen(function*() {
      const ps = yield* PendingStore.PendingStore
      const timedOut = yield* Effect.fork(ps.await("id-1", "30 seconds"))
      yield* TestClock.adjust("31 seconds")
      assert.isTrue(Option.isNone(yield* Fiber.join(timedOut)))
      const waiter = yield* Effect.fork(ps.await("id-2", "30 seconds"))
      yield* TestClock.adjust("1 second")
      yield* ps.complete("id-2", { ok: true })
      assert.deepStrictEqual(yield* Fiber.join(waiter), Option.some({ ok: true }))
    }).pipe(Effect.provide(PendingStore.layerMemory)))
})

describe("file backend", () => {
  const fresh = () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-file-"))
    const options = { directory, namespace: "ns" }
    const layer = FileStore.layer(options).pipe(Layer.provide(Keyring.layer(Redacted.make(keyA))))
    return { directory, file: FileStore.filePath(options), layer }
  }

  it.live("writes one 0600 file per namespace, atomically, and survives a restart", () => {
    const { directory, file, layer } = fresh()
    return Effect.gen(function*() {
      yield* Effect.provide(Effect.flatMap(CredentialStore.CredentialStore, (cs) => cs.set(key, cred)), layer)
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(directory), ["ns.json"], "no temp file left behind")
      const again = yield* Effect.provide(Effect.flatMap(CredentialStore.CredentialStore, (cs) => cs.get(key)), layer)
      const c = Option.getOrThrow(again).credential
      assert.strictEqual(c.type === "static" ? Redacted.value(c.fields.apiKey!) : "", "sk-unit")
      fs.rmSync(directory, { recursive: true, force: true })
    })
  })

  it.live("expired entries are dropped from the file on the next write", () => {
    const { directory, file, layer } = fresh()
    return Effect.gen(function*() {
      yield* Effect.provide(
        Effect.gen(function*() {
          const cs = yield* CredentialStore.CredentialStore
          const ps = yield* PendingStore.PendingStore
          yield* cs.set({ provider: "p", subject: "short" }, cred, { ttl: "100 millis" })
          yield* ps.create({ provider: "p", subject: "short" }, "100 millis")
          yield* Effect.sleep("200 millis")
          yield* cs.set({ provider: "p", subject: "long" }, cred)
        }),
        layer
      )
      const content = JSON.parse(fs.readFileSync(file, "utf8"))
      assert.strictEqual(Object.keys(content.credentials).length, 1)
      assert.strictEqual(Object.keys(content.pending).length, 0)
      fs.rmSync(directory, { recursive: true, force: true })
    })
  })

  it.live("a corrupt file is a StoreError and is never overwritten", () => {
    const { directory, file, layer } = fresh()
    fs.writeFileSync(file, "{ not json", { mode: 0o600 })
    return Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.provide(Effect.flatMap(CredentialStore.CredentialStore, (cs) => cs.set(key, cred)), layer)
      )
      assert.strictEqual(error._tag, "StoreError")
      assert.strictEqual(fs.readFileSync(file, "utf8"), "{ not json")
      fs.rmSync(directory, { recursive: true, force: true })
    })
  })

  it.live("layerConfig reads the directory and the key from Config", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-cfg-"))
    const layer = FileStore.layerConfig({ directory: Config.string("VAULT_DIR") }).pipe(
      Layer.provide(Keyring.layerConfig())
    )
    return Effect.gen(function*() {
      yield* Effect.provide(Effect.flatMap(CredentialStore.CredentialStore, (cs) => cs.set(key, cred)), layer)
      assert.deepStrictEqual(fs.readdirSync(directory), ["default.json"])
      fs.rmSync(directory, { recursive: true, force: true })
    }).pipe(
      Effect.withConfigProvider(
        ConfigProvider.fromMap(new Map([["VAULT_DIR", directory], ["MCP_CREDENTIALS_ENCRYPTION_KEY", keyA]]))
      )
    )
  })
})

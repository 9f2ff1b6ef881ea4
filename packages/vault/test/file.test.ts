import { ResolvedCredential } from "@mcp-credentials/core"
import { Effect, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { credentialId } from "../src/internal/records.js"
import { CredentialStore, FileStore, Keyring } from "../src/index.js"
import type { StoreKey } from "../src/CredentialStore.js"
import { contract, keyA } from "./contract.js"

const directory = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-test-"))
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }))

let n = 0
interface Content {
  credentials: Record<string, { provider: string; subject: string; sealed: string }>
}

contract({
  name: "file",
  unavailable: undefined,
  crossInstance: true,
  fresh: () => {
    const options = { directory, namespace: `ns${++n}` }
    const file = FileStore.filePath(options)
    const readJson = Effect.sync(() => JSON.parse(fs.readFileSync(file, "utf8")) as Content)
    const writeJson = (c: Content) => Effect.sync(() => fs.writeFileSync(file, JSON.stringify(c)))
    return {
      layer: (keys = keyA) => FileStore.layer(options).pipe(Layer.provide(Keyring.layer(Redacted.make(keys)))),
      layerConfig: () => FileStore.layer(options).pipe(Layer.provide(Keyring.layerConfig())),
      raw: {
        dump: Effect.sync(() => fs.readFileSync(file, "utf8")),
        sealed: (key: StoreKey) => Effect.map(readJson, (c) => c.credentials[credentialId(key)]?.sealed),
        move: (from: StoreKey, to: StoreKey) =>
          Effect.flatMap(readJson, (c) => {
            c.credentials[credentialId(to)] = { ...c.credentials[credentialId(from)]!, ...to }
            return writeJson(c)
          }),
        stripExpiry: (key: StoreKey) =>
          Effect.flatMap(readJson, (c) => {
            c.credentials[credentialId(key)] = { ...c.credentials[credentialId(key)]!, expiresAt: null } as any
            return writeJson(c)
          }),
        copyVerbatim: (from: StoreKey, to: StoreKey) =>
          Effect.flatMap(readJson, (c) => {
            c.credentials[credentialId(to)] = { ...c.credentials[credentialId(from)]! }
            return writeJson(c)
          }),
        replace: (key: StoreKey, sealed: string) =>
          Effect.flatMap(readJson, (c) => {
            c.credentials[credentialId(key)] = { ...c.credentials[credentialId(key)]!, sealed }
            return writeJson(c)
          })
      }
    }
  }
})

describe("FileStore options", () => {
  it.effect("fix: an invalid namespace fails with a message that names the option", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Effect.scoped(Layer.build(FileStore.layer({ directory, namespace: "bad/ns" }).pipe(Layer.provide(Keyring.layer(Redacted.make(keyA))))))
      )
      assert.strictEqual(error._tag, "StoreError")
      assert.include(error.message, "namespace")
      assert.notInclude(error.message, "bad/ns")
    }))
})

describe("FileStore: a store file of the wrong shape", () => {
  it.live("fix: a table or record of the wrong shape is a StoreError on every operation, and the file is left as it was (it listed as empty)", () =>
    Effect.gen(function*() {
      const contents = [
        { format: "mcp-credentials/vault@1", credentials: "x" },
        { format: "mcp-credentials/vault@1", credentials: [] },
        { format: "mcp-credentials/vault@1", pending: [1] },
        { format: "mcp-credentials/vault@1", generations: { a: "1" } },
        { format: "mcp-credentials/vault@1", credentials: { x: { provider: "github", subject: "alice", generation: 1, expiresAt: "x", sealed: "v1.a.b.c" } } }
      ]
      for (const [i, content] of contents.entries()) {
        const namespace = `malformed-${i}`
        const file = path.join(directory, `${namespace}.json`)
        const text = JSON.stringify(content)
        fs.writeFileSync(file, text)
        const layer = FileStore.layer({ directory, namespace }).pipe(Layer.provide(Keyring.layer(Redacted.make(keyA))))
        // refused when the store opens (it reads the file), or by each operation
        const opened = yield* Effect.either(Effect.scoped(Effect.gen(function*() {
          const cs = yield* CredentialStore.CredentialStore
          const key = { provider: "github", subject: "alice" }
          for (const failed of [yield* Effect.flip(cs.list("alice")), yield* Effect.flip(cs.get(key)), yield* Effect.flip(cs.set(key, ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-new" })))]) {
            assert.strictEqual(failed._tag, "StoreError", text)
            assert.include(String((failed as { cause?: unknown }).cause), "the store file is malformed", text)
          }
        }).pipe(Effect.provide(layer))))
        if (opened._tag === "Left") {
          const refused = opened.left as { readonly _tag?: string; readonly cause?: unknown }
          assert.strictEqual(refused._tag, "StoreError", text)
          assert.include(String(refused.cause), "the store file is malformed", text)
        }
        assert.strictEqual(fs.readFileSync(file, "utf8"), text, "the file is left as it was")
      }
    }))
})

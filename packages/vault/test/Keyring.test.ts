import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Keyring } from "../src/index.js"

const key32 = Buffer.alloc(32, 7).toString("base64")
const parse = (spec: string) => Keyring.parse(Redacted.make(spec))

describe("Keyring", () => {
  it.effect("seals with AES-256-GCM: random IV, key id in the record, owner as AAD", () =>
    Effect.gen(function*() {
      const ring = yield* parse(`main:${key32}`)
      const a = ring.seal("secret", "github\0alice")
      const b = ring.seal("secret", "github\0alice")
      assert.notStrictEqual(a, b)
      assert.isTrue(a.startsWith("v1.main."))
      assert.notInclude(a, "secret")
      assert.strictEqual(yield* ring.open(a, "github\0alice"), "secret")
      const wrongOwner = yield* Effect.flip(ring.open(a, "github\0bob"))
      assert.strictEqual(wrongOwner._tag, "DecryptionError")
      // "\0" separates provider and subject: ("ab", "c") is not ("a", "bc")
      const c = ring.seal("x", "ab\0c")
      assert.strictEqual((yield* Effect.flip(ring.open(c, "a\0bc")))._tag, "DecryptionError")
    }))

  it.effect("a bare key gets a stable fingerprint id; a ring decrypts with any key and encrypts with the first", () =>
    Effect.gen(function*() {
      const old = yield* parse(key32)
      const again = yield* parse(` ${key32}\n`)
      assert.strictEqual(old.currentKeyId, again.currentKeyId)
      const sealedOld = old.seal("v", "aad")
      const ring = yield* parse(`new:${Buffer.alloc(32, 9).toString("base64")},${key32}`)
      assert.strictEqual(ring.currentKeyId, "new")
      assert.deepStrictEqual(ring.keyIds, ["new", old.currentKeyId])
      assert.strictEqual(yield* ring.open(sealedOld, "aad"), "v")
      const error = yield* Effect.flip(old.open(ring.seal("v", "aad"), "aad"))
      assert.include(error.message, "key id new")
    }))

  it.effect("malformed keys fail with EncryptionKeyError naming the variable, never the value", () =>
    Effect.gen(function*() {
      const short = Buffer.alloc(16, 1).toString("base64")
      for (const [spec, reason] of [
        [short, "exactly 32 bytes"],
        ["not base64!", "not base64"],
        ["", "empty"],
        [`a:${key32},a:${key32}`, "twice"],
        [`bad.id:${key32}`, "invalid key id"]
      ] as const) {
        const error = yield* Effect.flip(parse(spec))
        assert.strictEqual(error._tag, "EncryptionKeyError")
        assert.include(error.message, "MCP_CREDENTIALS_ENCRYPTION_KEY")
        assert.include(error.message, reason)
        if (spec.length > 0) assert.notInclude(error.message, spec)
      }
    }))

  it.effect("layerConfig: the variable, else the key file, else a clear error", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-vault-key-"))
      const file = path.join(dir, "key")
      fs.writeFileSync(file, `filekey:${key32}\n`, { mode: 0o600 })
      const load = (env: Record<string, string>) =>
        Effect.provide(Keyring.Keyring, Keyring.layerConfig()).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
        )
      assert.strictEqual((yield* load({ MCP_CREDENTIALS_ENCRYPTION_KEY: `env:${key32}` })).currentKeyId, "env")
      assert.strictEqual((yield* load({ MCP_CREDENTIALS_ENCRYPTION_KEY_FILE: file })).currentKeyId, "filekey")
      // the seed's variables (a Fernet key is url-safe base64 of 32 bytes), when ours are not set
      const fernet = Buffer.from(key32, "base64").toString("base64url")
      assert.strictEqual((yield* load({ STORAGE_ENCRYPTION_KEY: fernet })).keyIds.length, 1)
      assert.strictEqual((yield* load({ STORAGE_ENCRYPTION_KEY_PATH: file })).currentKeyId, "filekey")
      assert.strictEqual((yield* load({ MCP_CREDENTIALS_ENCRYPTION_KEY: `env:${key32}`, STORAGE_ENCRYPTION_KEY: fernet })).currentKeyId, "env")
      const badSeed = yield* Effect.flip(load({ STORAGE_ENCRYPTION_KEY: "not-a-key" }))
      assert.strictEqual(badSeed.variable, "STORAGE_ENCRYPTION_KEY")
      assert.notInclude(badSeed.message, "not-a-key")
      const missing = yield* Effect.flip(load({}))
      assert.strictEqual(missing._tag, "EncryptionKeyError")
      assert.strictEqual(missing.variable, "MCP_CREDENTIALS_ENCRYPTION_KEY")
      assert.include(missing.message, "not set")
      const noFile = yield* Effect.flip(load({ MCP_CREDENTIALS_ENCRYPTION_KEY_FILE: path.join(dir, "nope") }))
      assert.strictEqual(noFile.variable, "MCP_CREDENTIALS_ENCRYPTION_KEY_FILE")
      fs.writeFileSync(file, "garbage")
      const badFile = yield* Effect.flip(load({ MCP_CREDENTIALS_ENCRYPTION_KEY_FILE: file }))
      assert.notInclude(badFile.message, "garbage")
      fs.rmSync(dir, { recursive: true, force: true })
    }))
})

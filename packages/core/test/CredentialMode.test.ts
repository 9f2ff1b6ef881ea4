import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Redacted } from "effect"
import { CredentialBackend, CredentialMode } from "../src/index.js"

const withEnv = (env: Record<string, string>) => Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
const mode = (env: Record<string, string>) => CredentialMode.get.pipe(withEnv(env))

describe("CredentialMode — seed §1.11 (test_config.py)", () => {
  it.effect("keep: unset → oss", () => Effect.map(mode({}), (m) => assert.strictEqual(m, "oss")))
  it.effect("keep: 'oss' → oss", () => Effect.map(mode({ MCP_CREDENTIAL_MODE: "oss" }), (m) => assert.strictEqual(m, "oss")))
  it.effect("keep: 'hosted' → hosted", () => Effect.map(mode({ MCP_CREDENTIAL_MODE: "hosted" }), (m) => assert.strictEqual(m, "hosted")))
  it.effect("keep: 'HOSTED' → hosted", () => Effect.map(mode({ MCP_CREDENTIAL_MODE: "HOSTED" }), (m) => assert.strictEqual(m, "hosted")))
  it.effect("keep: '  hosted  ' → hosted", () => Effect.map(mode({ MCP_CREDENTIAL_MODE: "  hosted  " }), (m) => assert.strictEqual(m, "hosted")))
  it.effect("keep: 'vault' → ConfigError naming the variable, value not quoted", () =>
    Effect.map(Effect.flip(mode({ MCP_CREDENTIAL_MODE: "vault" })), (e) => {
      assert.include(String(e), "MCP_CREDENTIAL_MODE")
      assert.notInclude(String(e), "vault")
    }))
  it.effect("keep: 'invalid' → message lists oss and hosted", () =>
    Effect.map(Effect.flip(mode({ MCP_CREDENTIAL_MODE: "invalid" })), (e) => {
      assert.include(String(e), "oss")
      assert.include(String(e), "hosted")
    }))
  it("keep: the oss value is 'oss'", () => assert.strictEqual(CredentialMode.values[0], "oss"))
  it("keep: the hosted value is 'hosted'", () => assert.strictEqual(CredentialMode.values[1], "hosted"))
  it.effect("keep: set but empty → ConfigError", () =>
    Effect.map(Effect.flip(mode({ MCP_CREDENTIAL_MODE: "" })), (e) => assert.include(String(e), "MCP_CREDENTIAL_MODE")))
  it.effect("keep: FASTMCP_CREDENTIAL_MODE is honoured when MCP_CREDENTIAL_MODE is unset", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* mode({ FASTMCP_CREDENTIAL_MODE: "hosted" }), "hosted")
      assert.strictEqual(yield* mode({ FASTMCP_CREDENTIAL_MODE: "hosted", MCP_CREDENTIAL_MODE: "oss" }), "oss")
      const e = yield* Effect.flip(mode({ FASTMCP_CREDENTIAL_MODE: "nope" }))
      assert.include(String(e), "FASTMCP_CREDENTIAL_MODE")
    }))
})

describe("CredentialBackend.layerFromMode", () => {
  const resolveStatic = (env: Record<string, string>, headers?: Record<string, string>) =>
    CredentialBackend.resolve({ kind: "static", headers }).pipe(
      Effect.provide(CredentialBackend.layerFromMode({ prefix: "APP_" })),
      withEnv(env)
    )
  it.effect("oss → Env backend", () =>
    Effect.map(resolveStatic({ APP_FIELD_k: "env-v" }, { "X-MCP-Cred-Fields": '{"k":"hdr-v"}' }), (c) =>
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.k!), "env-v")))
  it.effect("hosted → Header backend", () =>
    Effect.map(resolveStatic({ APP_FIELD_k: "env-v", MCP_CREDENTIAL_MODE: "hosted" }, { "X-MCP-Cred-Fields": '{"k":"hdr-v"}' }), (c) =>
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.k!), "hdr-v")))
  it.effect("an invalid mode fails the layer with a ConfigError", () =>
    Effect.map(Effect.flip(resolveStatic({ MCP_CREDENTIAL_MODE: "cloud" })), (e) => assert.include(String(e), "Valid values: oss, hosted")))
})

import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Redacted } from "effect"
import * as fc from "fast-check"
import { inspect } from "node:util"
import { CredentialError, EnvCredentialBackend, HeaderCredentialBackend } from "../src/index.js"
import type { CredentialKind } from "../src/ResolvedCredential.js"

const RUNS = 1_000

/** A secret: arbitrary text between two markers, so a match in the output is never an accident. */
const secret = fc.string({ minLength: 1, maxLength: 24, unit: "binary" }).map((s) => `S3CR3T<${s}>T3RC3S`)
const kind = fc.constantFrom<CredentialKind>("static", "oauth")
const junk = fc.oneof(
  fc.string(),
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.constantFrom("", " ", "[", "{", "null", "[1]", "[]", "{}", '["a",""]', "2026-05-04T12:00:00Z", "not-a-date")
)

/** Entry = [name, value, secrets it carries]. */
type Entry = readonly [string, string, ReadonlyArray<string>]
const plain = (name: fc.Arbitrary<string>): fc.Arbitrary<Entry> =>
  fc.tuple(name, junk).map(([n, v]) => [n, v, []] as const)
const secretEntry = (name: fc.Arbitrary<string>): fc.Arbitrary<Entry> =>
  fc.tuple(name, secret).map(([n, v]) => [n, v, [v]] as const)
/** A JSON object of fields whose string values are secrets, with some non-string values mixed in. */
const fieldsEntry = (name: fc.Arbitrary<string>): fc.Arbitrary<Entry> =>
  fc.tuple(
    name,
    fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(secret, fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== "string")))
  ).map(([n, o]) => [n, JSON.stringify(o), Object.values(o).filter((v): v is string => typeof v === "string")] as const)

/** Every form in which a secret could show up: as is and JSON-escaped. */
const leaks = (secrets: ReadonlyArray<string>, text: string) =>
  secrets.some((s) => text.includes(s) || text.includes(JSON.stringify(s).slice(1, -1)))

const check = (secrets: ReadonlyArray<string>, exit: Exit.Exit<unknown, CredentialError.CredentialError>) => {
  if (Exit.isSuccess(exit)) {
    const c = exit.value
    for (const shown of [String(c), JSON.stringify(c), inspect(c, { depth: 10 })]) {
      assert.isFalse(leaks(secrets, shown), "a printed credential shows a secret")
    }
    return
  }
  assert.isFalse(Cause.isDie(exit.cause), `defect: ${Cause.pretty(exit.cause)}`)
  const error = Cause.squash(exit.cause)
  assert.isTrue(CredentialError.isCredentialError(error), "not a tagged credential error")
  for (const shown of [(error as Error).message, String(error), JSON.stringify(error), inspect(error)]) {
    assert.isFalse(leaks(secrets, shown), "an error shows a secret")
  }
}

describe("properties: resolve never defects and never shows a secret", () => {
  it("env backend, arbitrary env maps (1,000 runs)", () => {
    const entry = fc.oneof(
      fieldsEntry(fc.constant("P_FIELDS")),
      plain(fc.constant("P_FIELDS")),
      secretEntry(fc.string({ maxLength: 8 }).map((n) => `P_FIELD_${n}`)),
      secretEntry(fc.constantFrom("P_ACCESS_TOKEN", "P_REFRESH_TOKEN", "P_CLIENT_SECRET")),
      plain(fc.constantFrom("P_CLIENT_ID", "P_TOKEN_URI", "P_SCOPES", "P_EXPIRES_AT", "P_EXTRA_DC", "OTHER"))
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 8 }), kind, (entries, k) => {
        const env = new Map(entries.map(([n, v]) => [n, v] as const))
        const exit = Effect.runSyncExit(
          EnvCredentialBackend.make({ prefix: "p_" }).resolve({ kind: k }).pipe(
            Effect.withConfigProvider(ConfigProvider.fromMap(env))
          )
        )
        check(entries.flatMap(([, , s]) => s), exit)
      }),
      { numRuns: RUNS }
    )
  })

  it("header backend, arbitrary header maps, with and without a gateway secret, and over stdio (1,000 runs)", () => {
    const entry = fc.oneof(
      fieldsEntry(fc.constantFrom("X-MCP-Cred-Fields", "x-mcp-cred-fields")),
      plain(fc.constantFrom("X-MCP-Cred-Fields", "X-MCP-Cred-Scopes", "X-MCP-Cred-Extra", "X-MCP-Cred-Expires-At")),
      secretEntry(fc.constantFrom("X-MCP-Cred-Access-Token", "x-mcp-cred-access-token", "Authorization")),
      plain(fc.constantFrom("X-MCP-Gateway-Signature", "X-MCP-Gateway-Timestamp", "X-MCP-Gateway-Secret"))
    )
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 8 }),
        kind,
        fc.option(secret, { nil: undefined }),
        fc.constantFrom<"hmac" | "secret">("hmac", "secret"),
        fc.boolean(),
        (entries, k, gw, scheme, stdio) => {
          const headers = Object.fromEntries(entries.map(([n, v]) => [n, v] as const))
          const backend = HeaderCredentialBackend.make(
            gw === undefined ? {} : { gatewaySecret: Redacted.make(gw), gatewayScheme: scheme }
          )
          const exit = Effect.runSyncExit(backend.resolve({ kind: k, headers: stdio ? undefined : headers }))
          check([...entries.flatMap(([, , s]) => s), ...(gw === undefined ? [] : [gw])], exit)
        }
      ),
      { numRuns: RUNS }
    )
  })
})

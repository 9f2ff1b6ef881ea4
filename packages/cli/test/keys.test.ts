import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as jose from "jose"
import { execFileSync, spawnSync } from "node:child_process"
import { generateKeyPairSync } from "node:crypto"
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from "node:fs"
import { join } from "node:path"
import { parse as parseYaml } from "yaml"
import { assertBuilt, isOneLine, LAUNCHER, run, runInProcess, tempDir } from "./helpers.js"

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"))
const mode = (path: string) => statSync(path).mode & 0o777
const owner = (path: string) => `${statSync(path).uid}:${statSync(path).gid}`
/** Ownership can be given away only by root: those assertions are skipped otherwise, with the reason. */
const root = process.getuid?.() === 0
/** The unprivileged user the ownership tests give files to (nobody). */
const NOBODY = { uid: 65534, gid: 65534 }
const notRoot = (what: string) => console.log(`skipped ${what}: the tests do not run as root (uid ${process.getuid?.()})`)
/** No temporary file (it may hold a private key) is left in `dir`. */
const noTemp = (dir: string) => assert.deepStrictEqual(readdirSync(dir).filter((f) => f.endsWith(".tmp")), [])

describe.concurrent("keys generate", () => {
  const tmp = tempDir()
  /** Each test works in its own directory, so that they run concurrently. */
  const cwd = (name: string) => {
    mkdirSync(join(tmp.dir, name))
    return join(tmp.dir, name)
  }
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)

  it("writes the seed's JWKS files: private 0600, public without private members, kid/use/alg on each", async () => {
    const dir = cwd("seed")
    const r = await run(["keys", "generate", "--size", "2048"], { cwd: dir })
    assert.strictEqual(r.code, 0, r.stderr)
    const priv = join(dir, ".keys", "mcp-private.json")
    const pub = join(dir, ".keys", "mcp-public.json")
    // the seed's stdout, line for line (plus the key id)
    const lines = r.stdout.trimEnd().split("\n")
    assert.deepStrictEqual(lines.slice(0, 3), ["Keys generated (JWKS format):", `  Private: ${priv}`, `  Public:  ${pub}`])
    assert.include(r.stdout, `For local development, add to .env:\n  MCP_KEY_FILE_PATH=${priv}\n`)
    assert.include(r.stdout, "Add to .gitignore:\n  .keys/")

    assert.strictEqual(mode(priv), 0o600)
    assert.strictEqual(mode(join(dir, ".keys")) & 0o077, 0)
    const privateSet = readJson(priv)
    const publicSet = readJson(pub)
    assert.strictEqual(privateSet.keys.length, 1)
    const [key] = privateSet.keys
    assert.strictEqual(key.kty, "RSA")
    assert.strictEqual(key.use, "enc")
    assert.strictEqual(key.alg, "RSA-OAEP-256")
    assert.isString(key.d)
    assert.strictEqual(Buffer.from(key.n, "base64url").length * 8, 2048)
    // kid = RFC 7638 thumbprint, as the seed (jwcrypto's default)
    assert.strictEqual(key.kid, await jose.calculateJwkThumbprint(publicSet.keys[0], "sha256"))
    assert.include(r.stdout, `Key id:  ${key.kid}`)
    assert.deepStrictEqual(publicSet, { keys: [{ kty: "RSA", kid: key.kid, use: "enc", alg: "RSA-OAEP-256", n: key.n, e: key.e }] })
    // two-space indented, as the seed writes it
    assert.match(readFileSync(pub, "utf8"), /^\{\n {2}"keys": \[\n {4}\{\n {6}"kty"/)
  })

  it("refuses to overwrite without --force (one line, exit 1, files untouched); --force overwrites, still 0600", async () => {
    const dir = cwd("overwrite")
    assert.strictEqual((await runInProcess(["keys", "generate", "--size", "2048", "--dir", join(dir, ".keys")])).code, 0)
    const priv = join(dir, ".keys", "mcp-private.json")
    const before = readFileSync(priv, "utf8")
    const r = await run(["keys", "generate", "--size", "2048"], { cwd: dir })
    assert.strictEqual(r.code, 1)
    assert.strictEqual(r.stdout, "")
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "already exists")
    assert.include(r.stderr, "--force")
    assert.strictEqual(readFileSync(priv, "utf8"), before)

    const forced = await runInProcess(["keys", "generate", "--size", "2048", "--force", "--dir", join(dir, ".keys")])
    assert.strictEqual(forced.code, 0, forced.stderr)
    assert.notStrictEqual(readJson(priv).keys[0].kid, JSON.parse(before).keys[0].kid)
    assert.strictEqual(mode(priv), 0o600)
  })

  it("fix: --force that cannot write the public file leaves the private file it found (no mismatched pair)", async () => {
    const dir = cwd("force-halfway")
    assert.strictEqual((await runInProcess(["keys", "generate", "--size", "2048", "--dir", join(dir, ".keys")])).code, 0)
    const priv = join(dir, ".keys", "mcp-private.json")
    const before = readFileSync(priv, "utf8")
    // the public file's place is taken by a directory: the rename onto it fails
    rmSync(join(dir, ".keys", "mcp-public.json"))
    mkdirSync(join(dir, ".keys", "mcp-public.json", "inside"), { recursive: true })
    const r = await runInProcess(["keys", "generate", "--size", "2048", "--force", "--dir", join(dir, ".keys")])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.include(r.stderr, "mcp-public.json")
    assert.strictEqual(readFileSync(priv, "utf8"), before)
    assert.strictEqual(mode(priv), 0o600)
    assert.deepStrictEqual(readdirSync(join(dir, ".keys")).filter((f) => f.endsWith(".tmp")), [])
  })

  it("fix: two runs at once without --force: exactly one writes the pair, the other fails as 'already exists'; the files hold the winner's key", async () => {
    const dir = cwd("race")
    const runs = await Promise.all([0, 1, 2].map(() => run(["keys", "generate", "--size", "2048"], { cwd: dir })))
    const won = runs.filter((r) => r.code === 0)
    assert.strictEqual(won.length, 1, runs.map((r) => `${r.code}: ${r.stderr}`).join("\n"))
    for (const r of runs.filter((r) => r.code !== 0)) {
      assert.strictEqual(r.code, 1, r.stderr)
      assert.include(r.stderr, "already exists")
    }
    const priv = readJson(join(dir, ".keys", "mcp-private.json")).keys
    const pub = readJson(join(dir, ".keys", "mcp-public.json")).keys
    assert.strictEqual(priv.length, 1)
    assert.strictEqual(pub[0].kid, priv[0].kid)
    assert.include(won[0]!.stdout, priv[0].kid)
    assert.strictEqual(mode(join(dir, ".keys", "mcp-private.json")), 0o600)
  })

  it("--dir, --alg RSA-OAEP (the seed's), default size 4096", async () => {
    const r = await run(["keys", "generate", "--dir", "other/keys", "--alg", "RSA-OAEP"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 0, r.stderr)
    const [key] = readJson(join(tmp.dir, "other", "keys", "mcp-private.json")).keys
    assert.strictEqual(key.alg, "RSA-OAEP")
    assert.strictEqual(Buffer.from(key.n, "base64url").length * 8, 4096)
    assert.include(r.stdout, "  other/keys/")
  })

  it("--use sig --alg ES256 writes a signing pair beside the encryption pair (in process)", async () => {
    const dir = cwd("sig")
    mkdirSync(join(dir, ".keys"))
    writeFileSync(join(dir, ".keys", "mcp-private.json"), "an encryption key")
    const r = await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", join(dir, ".keys")])
    assert.strictEqual(r.code, 0, r.stderr)
    const priv = join(dir, ".keys", "mcp-signing-private.json")
    assert.strictEqual(mode(priv), 0o600)
    const [key] = readJson(priv).keys
    assert.include(key, { kty: "EC", crv: "P-256", use: "sig", alg: "ES256" })
    const [pub] = readJson(join(dir, ".keys", "mcp-signing-public.json")).keys
    assert.deepStrictEqual(Object.keys(pub).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"])
    assert.strictEqual(readFileSync(join(dir, ".keys", "mcp-private.json"), "utf8"), "an encryption key", "the encryption pair is untouched")
  })

  it("bad arguments: one line on stderr, exit 2, nothing written", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, string]> = [
      [["--size", "1024"], "--size"],
      [["--use", "both"], "--use"],
      [["--use", "sig", "--alg", "RSA-OAEP-256"], "--alg"],
      [["--alg", "ES256", "--use", "sig", "--size", "2048"], "--size"]
    ]
    const never = join(tmp.dir, "never")
    // the first through the binary, the variants in process
    const results = await Promise.all(cases.map(([args], i) =>
      (i === 0 ? run : runInProcess)(["keys", "generate", "--dir", never, ...args])
    ))
    for (const [i, [args, named]] of cases.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.isTrue(isOneLine(r.stderr), `${args.join(" ")}: ${r.stderr}`)
      assert.include(r.stderr, named)
      assert.isFalse(existsSync(join(never, "mcp-private.json")))
    }
  })

  it("fix: -o and --output (the seed's names) are aliases of --dir", async () => {
    const dir = cwd("output-alias")
    const [long, short] = await Promise.all([
      runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--output", join(dir, "long")]),
      runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "-o", join(dir, "short")])
    ])
    assert.strictEqual(long.code, 0, long.stderr)
    assert.strictEqual(short.code, 0, short.stderr)
    assert.isTrue(existsSync(join(dir, "long", "mcp-signing-private.json")))
    assert.isTrue(existsSync(join(dir, "short", "mcp-signing-private.json")))
    const rotated = await runInProcess(["keys", "rotate", "--use", "sig", "--output", join(dir, "long")])
    assert.strictEqual(rotated.code, 0, rotated.stderr)
    assert.strictEqual(readJson(join(dir, "long", "mcp-signing-private.json")).keys.length, 2)
    const cleaned = await runInProcess(["keys", "clean", "--output", join(dir, "long")])
    assert.strictEqual(cleaned.code, 0, cleaned.stderr)
    assert.isFalse(existsSync(join(dir, "long", "mcp-signing-private.json")))
    assert.isTrue(existsSync(join(dir, "short", "mcp-signing-private.json")), "only the directory given")
    const help = await runInProcess(["keys", "generate", "--help"])
    assert.include(help.stdout, "--output")
  })

  it("fix: --force keeps the replaced files' mode (private never group/other-writable) and, as root, their owner", async () => {
    const dir = cwd("force-keeps")
    const keys = join(dir, ".keys")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", keys])).code, 0)
    const priv = join(keys, "mcp-signing-private.json")
    const pub = join(keys, "mcp-signing-public.json")
    chmodSync(priv, 0o660) // group write: dropped, group read kept
    chmodSync(pub, 0o664)
    if (root) chownSync(priv, NOBODY.uid, NOBODY.gid), chownSync(pub, NOBODY.uid, NOBODY.gid)
    const r = await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--force", "--dir", keys])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(mode(priv), 0o640)
    assert.strictEqual(mode(pub), 0o664)
    if (root) assert.deepStrictEqual([owner(priv), owner(pub)], ["65534:65534", "65534:65534"])
    else notRoot("the owner assertion")
    noTemp(keys)
  })

  it("an unwritable directory: one line, exit 1", async () => {
    writeFileSync(join(tmp.dir, "a-file"), "x")
    const r = await run(["keys", "generate", "--size", "2048", "--dir", "a-file/keys"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 1)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "a-file")
  })
})

describe.concurrent("keys rotate", () => {
  const tmp = tempDir()
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)

  it("adds a new key in front, keeps the old one (private and public), keeps 0600", async () => {
    assert.strictEqual((await runInProcess(["keys", "generate", "--size", "2048", "--dir", join(tmp.dir, ".keys")])).code, 0)
    const priv = join(tmp.dir, ".keys", "mcp-private.json")
    const pub = join(tmp.dir, ".keys", "mcp-public.json")
    const [old] = readJson(priv).keys

    const r = await run(["keys", "rotate"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 0, r.stderr)
    const keys = readJson(priv).keys
    assert.strictEqual(keys.length, 2)
    assert.notStrictEqual(keys[0].kid, old.kid)
    assert.deepStrictEqual(keys[1], old, "the old key is kept as it was")
    assert.include(r.stdout, `New key: ${keys[0].kid}`)
    assert.strictEqual(keys[0].alg, "RSA-OAEP-256")
    assert.strictEqual(Buffer.from(keys[0].n, "base64url").length * 8, 2048, "same size as the current key")
    assert.deepStrictEqual(readJson(pub).keys.map((k: jose.JWK) => k.kid), [keys[0].kid, old.kid])
    assert.isUndefined(readJson(pub).keys.find((k: jose.JWK) => k.d !== undefined))
    assert.strictEqual(mode(priv), 0o600)

    // a token encrypted to the old key still decrypts with the rotated private set
    const jwe = await new jose.CompactEncrypt(new TextEncoder().encode("hello"))
      .setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: old.kid })
      .encrypt(await jose.importJWK(readJson(pub).keys[1], "RSA-OAEP-256"))
    const byKid = keys.find((k: jose.JWK) => k.kid === jose.decodeProtectedHeader(jwe).kid)
    const { plaintext } = await jose.compactDecrypt(jwe, await jose.importJWK(byKid, "RSA-OAEP-256"))
    assert.strictEqual(new TextDecoder().decode(plaintext), "hello")
  })

  it("fix: concurrent rotations each add their key (the set is read and written under a lock)", async () => {
    const dir = join(tmp.dir, "concurrent")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", dir])).code, 0)
    const results = await Promise.all(Array.from({ length: 6 }, () => runInProcess(["keys", "rotate", "--use", "sig", "--dir", dir])))
    for (const r of results) assert.strictEqual(r.code, 0, r.stderr)
    const kids = readJson(join(dir, "mcp-signing-private.json")).keys.map((k: jose.JWK) => k.kid)
    assert.strictEqual(kids.length, 7, "the generated key and six rotated ones")
    assert.strictEqual(new Set(kids).size, 7)
    assert.deepStrictEqual(readJson(join(dir, "mcp-signing-public.json")).keys.map((k: jose.JWK) => k.kid), kids)
    assert.isFalse(existsSync(join(dir, "mcp-signing-private.json.lock")), "the lock is removed")
  })

  it("fix: rotating a legacy key of a size generate no longer makes (RSA 1024) makes a default-size key, not an error about --size", async () => {
    const dir = join(tmp.dir, "legacy")
    mkdirSync(dir, { recursive: true })
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 1024 })
    const jwk = { ...privateKey.export({ format: "jwk" }), kid: "legacy-1", alg: "RSA-OAEP-256", use: "enc" }
    writeFileSync(join(dir, "mcp-private.json"), JSON.stringify({ keys: [jwk] }), { mode: 0o600 })
    const r = await runInProcess(["keys", "rotate", "--dir", dir])
    assert.strictEqual(r.code, 0, r.stderr)
    const keys = readJson(join(dir, "mcp-private.json")).keys
    assert.strictEqual(keys.length, 2)
    assert.strictEqual(Buffer.from(keys[0].n, "base64url").length * 8, 4096, "the default size")
    assert.strictEqual(keys[1].kid, "legacy-1")
  })

  it("a lock left by a crashed rotation (older than 2 minutes) is taken over", async () => {
    const dir = join(tmp.dir, "stale")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", dir])).code, 0)
    const lock = join(dir, "mcp-signing-private.json.lock")
    writeFileSync(lock, "12345 crashed\n")
    const old = new Date(Date.now() - 3 * 60_000)
    utimesSync(lock, old, old)
    const r = await runInProcess(["keys", "rotate", "--use", "sig", "--dir", dir])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(readJson(join(dir, "mcp-signing-private.json")).keys.length, 2)
    assert.isFalse(existsSync(lock))
  })

  it("fix: keeps the files' mode (private never group/other-writable) and, run as root, their owner and group", async () => {
    const dir = join(tmp.dir, "keeps")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", dir])).code, 0)
    const priv = join(dir, "mcp-signing-private.json")
    const pub = join(dir, "mcp-signing-public.json")
    chmodSync(priv, 0o640) // the server's group reads its key
    chmodSync(pub, 0o644)
    if (root) chownSync(priv, NOBODY.uid, NOBODY.gid), chownSync(pub, NOBODY.uid, NOBODY.gid)
    const r = await run(["keys", "rotate", "--use", "sig", "--dir", dir])
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(readJson(priv).keys.length, 2)
    assert.strictEqual(mode(priv), 0o640)
    assert.strictEqual(mode(pub), 0o644)
    if (root) assert.deepStrictEqual([owner(priv), owner(pub)], ["65534:65534", "65534:65534"])
    else notRoot("the owner assertion")
    // never wider than before for the private file: group or other write is dropped
    chmodSync(priv, 0o662)
    const again = await runInProcess(["keys", "rotate", "--use", "sig", "--dir", dir])
    assert.strictEqual(again.code, 0, again.stderr)
    assert.strictEqual(mode(priv), 0o640)
    // a private key left world-readable is closed to others by the rotation
    chmodSync(priv, 0o644)
    const third = await runInProcess(["keys", "rotate", "--use", "sig", "--dir", dir])
    assert.strictEqual(third.code, 0, third.stderr)
    assert.strictEqual(mode(priv), 0o640)
    noTemp(dir)
  })

  it("fix: a user who cannot give the new file the old one's owner is refused, naming the user to run as; nothing replaced", async (ctx) => {
    if (!root) {
      notRoot("this test (it runs the command as another user)")
      return ctx.skip()
    }
    // root's key, readable by nobody's group, in a directory of nobody's: nobody may replace the
    // file but not give the new one to root
    chmodSync(tmp.dir, 0o755)
    const dir = join(tmp.dir, "refused")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", dir])).code, 0)
    const priv = join(dir, "mcp-signing-private.json")
    chownSync(dir, NOBODY.uid, NOBODY.gid)
    chownSync(priv, 0, NOBODY.gid)
    chmodSync(priv, 0o640)
    const before = readFileSync(priv, "utf8")
    const r = await run(["keys", "rotate", "--use", "sig", "--dir", dir], { user: NOBODY })
    assert.strictEqual(r.code, 1, r.stderr)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, `Cannot write ${priv}: it belongs to uid 0`)
    assert.include(r.stderr, "run the command as root")
    assert.strictEqual(readFileSync(priv, "utf8"), before)
    assert.strictEqual(owner(priv), `0:${NOBODY.gid}`)
    noTemp(dir)
  })

  it("fix: a key file that is a symbolic link stays one; the file it points to gets the new key set", async () => {
    const real = join(tmp.dir, "real")
    const linked = join(tmp.dir, "linked")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", real])).code, 0)
    mkdirSync(linked)
    for (const f of ["mcp-signing-private.json", "mcp-signing-public.json"]) symlinkSync(join("..", "real", f), join(linked, f))
    const r = await run(["keys", "rotate", "--use", "sig", "--dir", linked])
    assert.strictEqual(r.code, 0, r.stderr)
    for (const f of ["mcp-signing-private.json", "mcp-signing-public.json"]) {
      assert.isTrue(lstatSync(join(linked, f)).isSymbolicLink(), `${f} is still a link`)
      assert.strictEqual(readlinkSync(join(linked, f)), join("..", "real", f))
      assert.strictEqual(readJson(join(real, f)).keys.length, 2, `the file ${f} points to holds the new set`)
    }
    assert.strictEqual(mode(join(real, "mcp-signing-private.json")), 0o600)
    assert.deepStrictEqual(readdirSync(linked).sort(), ["mcp-signing-private.json", "mcp-signing-public.json"])
    assert.deepStrictEqual(readdirSync(real).sort(), ["mcp-signing-private.json", "mcp-signing-public.json"], "no temporary or lock file left")
  })

  it("without a key file: one line, exit 1, names the command to run", async () => {
    const r = await runInProcess(["keys", "rotate", "--dir", join(tmp.dir, "empty")])
    assert.strictEqual(r.code, 1)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "keys generate")
  })

  it("a key file that is not JSON: one line, exit 1, content not quoted", async () => {
    writeFileSync(join(tmp.dir, "mcp-private.json"), "CANARY-not-json")
    const r = await run(["keys", "rotate", "--dir", "."], { cwd: tmp.dir })
    assert.strictEqual(r.code, 1)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "not valid JSON")
    assert.notInclude(r.stderr, "CANARY")
  })
})

describe.concurrent("keys k8s", () => {
  const tmp = tempDir()
  beforeAll(async () => {
    assertBuilt()
    assert.strictEqual((await runInProcess(["keys", "generate", "--size", "2048", "--dir", join(tmp.dir, ".keys")])).code, 0)
  })
  afterAll(tmp.cleanup)

  it("prints a Secret manifest: valid YAML, base64 data decoding to the key file, as kubectl makes it; hints on stderr", async (ctx) => {
    const r = await run(["keys", "k8s"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = parseYaml(r.stdout)
    assert.deepStrictEqual(Object.keys(doc).sort(), ["apiVersion", "data", "kind", "metadata", "type"])
    assert.include(doc, { apiVersion: "v1", kind: "Secret", type: "Opaque" })
    assert.deepStrictEqual(doc.metadata, { name: "mcp-auth-keys", namespace: "default" })
    const file = readFileSync(join(tmp.dir, ".keys", "mcp-private.json"))
    assert.isTrue(Buffer.from(doc.data.mcp_jwks, "base64").equals(file))
    assert.include(r.stderr, "# Apply: mcp-credentials keys k8s | kubectl apply -f -")
    assert.include(r.stderr, "remove the local copy of .keys/mcp-private.json")
    // fix: the hint never suggests `keys clean` (it also removes the signing keys this Secret does not hold)
    assert.notInclude(r.stderr, "keys clean")
    // the hints repeat the options given
    const custom = await run(["keys", "k8s", "--namespace", "mcp", "--key-file", "./.keys/mcp-private.json", "--name", "my-keys"], { cwd: tmp.dir })
    assert.strictEqual(custom.code, 0, custom.stderr)
    assert.include(custom.stderr, "# Apply: mcp-credentials keys k8s --name my-keys --namespace mcp --key-file ./.keys/mcp-private.json | kubectl apply -f -")
    assert.include(custom.stderr, "remove the local copy of ./.keys/mcp-private.json")

    // what kubectl generates itself for the same file
    let kubectl: string
    try {
      kubectl = execFileSync(
        "kubectl",
        ["create", "secret", "generic", "mcp-auth-keys", "--from-file=mcp_jwks=.keys/mcp-private.json", "-n", "default", "--dry-run=client", "-o", "json"],
        { cwd: tmp.dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }
      )
    } catch (e) {
      if (process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1") throw e
      console.log(`skipped the comparison with kubectl: it is not available (${(e as Error).message.split("\n")[0]})`)
      return ctx.skip()
    }
    const expected = JSON.parse(kubectl)
    assert.strictEqual(doc.kind, expected.kind)
    assert.strictEqual(doc.apiVersion, expected.apiVersion)
    assert.strictEqual(doc.metadata.name, expected.metadata.name)
    assert.strictEqual(doc.metadata.namespace, expected.metadata.namespace)
    assert.deepStrictEqual(doc.data, expected.data)
  })

  it("--name, --namespace, --key-file, --data-key (in process)", async () => {
    const r = await runInProcess(
      ["keys", "k8s", "--name", "my-keys", "-n", "prod", "--key-file", join(tmp.dir, ".keys", "mcp-private.json"), "--data-key", "key.json"]
    )
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = parseYaml(r.stdout)
    assert.deepStrictEqual(doc.metadata, { name: "my-keys", namespace: "prod" })
    assert.deepStrictEqual(Object.keys(doc.data), ["key.json"])
  })

  it("fix: output that cannot be written (a full disk: /dev/full) exits 1 with a message, so `k8s > file && rm key` keeps the key", async () => {
    const full = openSync("/dev/full", "w")
    try {
      const r = spawnSync(process.execPath, [LAUNCHER, "keys", "k8s"], { cwd: tmp.dir, stdio: ["ignore", full, "pipe"], encoding: "utf8" })
      assert.strictEqual(r.status, 1)
      assert.include(r.stderr, "cannot write the output to stdout (ENOSPC)")
      // and where it can be written, 0 as before
      const ok = spawnSync(process.execPath, [LAUNCHER, "keys", "k8s"], { cwd: tmp.dir, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" })
      assert.strictEqual(ok.status, 0, ok.stderr)
      assert.include(ok.stdout, "kind: Secret")
    } finally {
      closeSync(full)
    }
  })

  it("fix: names a YAML parser reads as something else (null, true, on, 1e3, 123) stay strings", async () => {
    const r = await runInProcess(
      ["keys", "k8s", "--name", "123", "-n", "null", "--key-file", join(tmp.dir, ".keys", "mcp-private.json"), "--data-key", "1e3"]
    )
    assert.strictEqual(r.code, 0, r.stderr)
    const doc = parseYaml(r.stdout)
    assert.deepStrictEqual(doc.metadata, { name: "123", namespace: "null" })
    assert.deepStrictEqual(Object.keys(doc.data), ["1e3"])
    for (const key of ["true", "on", "yes"]) {
      const k = await runInProcess(["keys", "k8s", "--key-file", join(tmp.dir, ".keys", "mcp-private.json"), "--data-key", key, "-n", "on"])
      const d = parseYaml(k.stdout)
      assert.deepStrictEqual(Object.keys(d.data), [key])
      assert.strictEqual(d.metadata.namespace, "on")
    }
  })

  it("fix: -s and --secret-name (the seed's names) are aliases of --name", async () => {
    const keyFile = ["--key-file", join(tmp.dir, ".keys", "mcp-private.json")]
    const [short, long] = await Promise.all([
      runInProcess(["keys", "k8s", ...keyFile, "-s", "short-name"]),
      runInProcess(["keys", "k8s", ...keyFile, "--secret-name", "long-name"])
    ])
    assert.strictEqual(short.code, 0, short.stderr)
    assert.strictEqual(long.code, 0, long.stderr)
    assert.strictEqual(parseYaml(short.stdout).metadata.name, "short-name")
    assert.strictEqual(parseYaml(long.stdout).metadata.name, "long-name")
    assert.include((await runInProcess(["keys", "k8s", "--help"])).stdout, "--secret-name")
  })

  it("refuses names that are not Kubernetes names (the seed pasted them into the YAML) and public key files", async () => {
    // (Kubernetes also refuses the data keys ".", ".." and any that starts with "..")
    const cases = [["--name", "x\nkind: Pod"], ["--namespace", "a.b"], ["--data-key", "a b"], ["--data-key", "."], ["--data-key", ".."], ["--data-key", "..x"]]
    const keyFile = ["--key-file", join(tmp.dir, ".keys", "mcp-private.json")]
    const results = await Promise.all(cases.map((args, i) => (i === 0 ? run : runInProcess)(["keys", "k8s", ...keyFile, ...args])))
    for (const [i, args] of cases.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 2, r.stderr)
      assert.strictEqual(r.stdout, "")
      assert.isTrue(isOneLine(r.stderr), r.stderr)
      assert.include(r.stderr, args[0]!)
    }
    const [pub, missing] = await Promise.all([
      runInProcess(["keys", "k8s", "--key-file", join(tmp.dir, ".keys", "mcp-public.json")]),
      run(["keys", "k8s", "--key-file", "nope.json"], { cwd: tmp.dir })
    ])
    assert.strictEqual(pub.code, 1)
    assert.include(pub.stderr, "not a private key file")
    assert.strictEqual(missing.code, 1)
    assert.isTrue(isOneLine(missing.stderr), missing.stderr)
    assert.include(missing.stderr, "nope.json: file not found")
  })
})

describe.concurrent("keys clean", () => {
  const tmp = tempDir()
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)

  it("overwrites and removes every key file, says what it removed; then finds none", async () => {
    const keys = join(tmp.dir, ".keys")
    const generated = await Promise.all([
      runInProcess(["keys", "generate", "--size", "2048", "--dir", keys]),
      runInProcess(["keys", "generate", "--use", "sig", "--alg", "EdDSA", "--dir", keys])
    ])
    for (const g of generated) assert.strictEqual(g.code, 0, g.stderr)
    writeFileSync(join(tmp.dir, ".keys", "unrelated.txt"), "keep me")
    // a second name for the private file's inode shows what clean left in its blocks
    const witness = join(tmp.dir, "witness")
    linkSync(join(tmp.dir, ".keys", "mcp-private.json"), witness)
    const original = readFileSync(witness)
    const r = await run(["keys", "clean"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 0, r.stderr)
    const names = ["mcp-private.json", "mcp-public.json", "mcp-signing-private.json", "mcp-signing-public.json"]
    assert.deepStrictEqual(r.stdout.trimEnd().split("\n"), ["Removed:", ...names.map((n) => `  ${join(tmp.dir, ".keys", n)}`)])
    for (const n of names) assert.isFalse(existsSync(join(tmp.dir, ".keys", n)))
    assert.isTrue(existsSync(join(tmp.dir, ".keys", "unrelated.txt")))
    const after = readFileSync(witness)
    assert.strictEqual(after.length, original.length)
    assert.isFalse(after.equals(original), "the key bytes were overwritten before the file was removed")
    assert.notInclude(after.toString("latin1"), "\"d\"")

    const again = await runInProcess(["keys", "clean", "--dir", keys])
    assert.strictEqual(again.code, 0)
    assert.strictEqual(again.stdout.trimEnd(), `No keys found in ${keys}`)
  })

  it("fix: also removes what a key write interrupted before its rename left (.<file>.<hex>.tmp, the same key material)", async () => {
    const keys = join(tmp.dir, "leftovers")
    assert.strictEqual((await runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", keys])).code, 0)
    const leftover = join(keys, ".mcp-signing-private.json.0123456789ab.tmp")
    writeFileSync(leftover, readFileSync(join(keys, "mcp-signing-private.json")), { mode: 0o600 })
    const orphan = join(keys, ".mcp-private.json.abcdef012345.tmp") // its key file is gone already
    writeFileSync(orphan, "{}", { mode: 0o600 })
    const unrelated = join(keys, ".mcp-private.json.not-a-temp.tmp")
    writeFileSync(unrelated, "keep me")
    const r = await runInProcess(["keys", "clean", "--dir", keys])
    assert.strictEqual(r.code, 0, r.stderr)
    for (const f of [leftover, orphan]) {
      assert.isFalse(existsSync(f), f)
      assert.include(r.stdout, f)
    }
    assert.isTrue(existsSync(unrelated))
  })

  it("fix: a read-only key file of the user is made writable and overwritten; another user's is removed without being overwritten, with a warning", async () => {
    // root writes any file: the command runs as nobody when the tests run as root
    const keys = join(tmp.dir, "read-only")
    const generated = await Promise.all([
      runInProcess(["keys", "generate", "--size", "2048", "--dir", keys]),
      runInProcess(["keys", "generate", "--use", "sig", "--alg", "ES256", "--dir", keys])
    ])
    for (const g of generated) assert.strictEqual(g.code, 0, g.stderr)
    const priv = join(keys, "mcp-private.json")
    const signing = join(keys, "mcp-signing-private.json")
    if (root) {
      chmodSync(tmp.dir, 0o755)
      for (const f of [keys, ...readdirSync(keys).map((f) => join(keys, f))]) chownSync(f, NOBODY.uid, NOBODY.gid)
      chownSync(signing, 0, 0) // root's file, mode 0600: nobody may not write it, only remove it
    } else notRoot("the part with another user's file")
    chmodSync(priv, 0o400)
    const witness = join(tmp.dir, "read-only-witness")
    linkSync(priv, witness)
    const original = readFileSync(witness)
    const r = await run(["keys", "clean", "--dir", keys], root ? { user: NOBODY } : {})
    assert.strictEqual(r.code, 0, r.stderr)
    assert.deepStrictEqual(readdirSync(keys), [])
    assert.isFalse(readFileSync(witness).equals(original), "the read-only file was overwritten before it was removed")
    assert.include(r.stdout, `  ${priv}\n`)
    if (root) {
      assert.include(r.stdout, `  ${signing} (not overwritten: no permission to write it; only removed)`)
      assert.isTrue(isOneLine(r.stderr), r.stderr)
      assert.include(r.stderr, `warning: ${signing} was removed without being overwritten`)
    } else assert.strictEqual(r.stderr, "")
  })

  it("fix: a file that cannot be removed fails the run (exit 1), after the files already removed are listed", async () => {
    const keys = join(tmp.dir, "part-way")
    assert.strictEqual((await runInProcess(["keys", "generate", "--size", "2048", "--dir", keys])).code, 0)
    // the public file's place is taken by a directory that is not empty: it cannot be removed
    rmSync(join(keys, "mcp-public.json"))
    mkdirSync(join(keys, "mcp-public.json", "inside"), { recursive: true })
    const r = await run(["keys", "clean", "--dir", keys])
    assert.strictEqual(r.code, 1, r.stderr)
    assert.strictEqual(r.stdout, `Removed:\n  ${join(keys, "mcp-private.json")}\n`)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, `Cannot remove ${join(keys, "mcp-public.json")}`)
    assert.isFalse(existsSync(join(keys, "mcp-private.json")))
  })

  it("a key file that is a symbolic link is removed, its target neither overwritten nor removed", async () => {
    mkdirSync(join(tmp.dir, "linked"))
    writeFileSync(join(tmp.dir, "precious.txt"), "precious")
    symlinkSync(join(tmp.dir, "precious.txt"), join(tmp.dir, "linked", "mcp-private.json"))
    const r = await run(["keys", "clean", "--dir", "linked"], { cwd: tmp.dir })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stdout, join(tmp.dir, "linked", "mcp-private.json"))
    // fix: the report says that only the link went, the file it points to was kept
    assert.include(r.stdout, "the link was removed, the file it points to was kept")
    assert.isFalse(existsSync(join(tmp.dir, "linked", "mcp-private.json")))
    assert.strictEqual(readFileSync(join(tmp.dir, "precious.txt"), "utf8"), "precious")
  })
})

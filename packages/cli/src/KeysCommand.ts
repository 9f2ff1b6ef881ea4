/**
 * `mcp-credentials keys`: generate, rotate, export to Kubernetes, and clean up JWKS key files.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { subcommandRequired } from "./CliError.js"
import { choice } from "./internal/options.js"
import * as KeyFile from "./KeyFile.js"
import * as KubernetesSecret from "./KubernetesSecret.js"

const dir = Options.text("dir").pipe(
  Options.withPseudoName("DIR"),
  // -o/--output: the seed's names of this option
  Options.withAlias("o"),
  Options.withAlias("output"),
  Options.withDefault(KeyFile.defaultDirectory),
  Options.withDescription("The directory of the key files (also -o, --output, as in the seed).")
)

const use = choice("use", ["enc", "sig"]).pipe(
  Options.withDefault("enc" as const),
  Options.withDescription(
    "enc: an encryption key pair (mcp-private.json / mcp-public.json) that the server decrypts JWE tokens with; " +
      "sig: a signing key pair (mcp-signing-private.json / mcp-signing-public.json) for a token issuer."
  )
)

const alg = Options.text("alg").pipe(
  Options.withPseudoName("ALG"),
  Options.optional,
  Options.withDescription(
    `The key's algorithm. enc: ${KeyFile.encryptionAlgorithms.join(", ")} (default RSA-OAEP-256); ` +
      `sig: ${KeyFile.signingAlgorithms.join(", ")} (default RS256).`
  )
)

const size = choice("size", ["2048", "3072", "4096"]).pipe(
  Options.map(Number),
  Options.optional,
  Options.withDescription("The RSA modulus length in bits (default 4096; RSA only).")
)

/**
 * `keys generate`: writes a new key pair; refuses to overwrite without `--force`.
 *
 * @since 0.1.0
 * @category commands
 */
export const generate = Command.make(
  "generate",
  {
    dir,
    use,
    alg,
    size,
    force: Options.boolean("force").pipe(Options.withDescription("Overwrite existing key files."))
  },
  (o) =>
    Effect.gen(function*() {
      const written = yield* KeyFile.generate({
        directory: o.dir,
        use: o.use,
        alg: Option.getOrUndefined(o.alg),
        size: Option.getOrUndefined(o.size),
        force: o.force
      })
      const gitignore = o.dir.replace(/\/+$/, "") + "/"
      const lines = [
        "Keys generated (JWKS format):",
        `  Private: ${written.privatePath}`,
        `  Public:  ${written.publicPath}`,
        `  Key id:  ${written.kid}`,
        ""
      ]
      if (written.use === "enc") {
        lines.push("For local development, add to .env:", `  MCP_KEY_FILE_PATH=${written.privatePath}`)
      } else {
        lines.push(
          "Sign development tokens with:",
          `  mcp-credentials token mint --sign-key ${written.privatePath} --claims '{"sub":"dev"}'`,
          "Verify them with the public key set (JwtVerifier jwks option):",
          `  ${written.publicPath}`
        )
      }
      lines.push("", "Add to .gitignore:", `  ${gitignore}`)
      yield* Console.log(lines.join("\n"))
    })
).pipe(Command.withDescription(
  "Generate a key pair as JWKS files (private file mode 0600). Refuses to overwrite existing files without --force."
))

/**
 * `keys rotate`: adds a new key in front, keeps the old ones for decryption.
 *
 * @since 0.1.0
 * @category commands
 */
export const rotate = Command.make("rotate", { dir, use, alg, size }, (o) =>
  Effect.gen(function*() {
    const written = yield* KeyFile.rotate({
      directory: o.dir,
      use: o.use,
      alg: Option.getOrUndefined(o.alg),
      size: Option.getOrUndefined(o.size)
    })
    yield* Console.log([
      "Key rotated (JWKS format):",
      `  New key: ${written.kid}`,
      `  Private: ${written.privatePath} (${written.keyCount} keys)`,
      `  Public:  ${written.publicPath} (${written.keyCount} keys)`,
      "",
      written.use === "enc"
        ? "The new key is first: token issuers encrypt to it. Older keys still decrypt tokens made for them."
        : "The new key is first: tokens are signed with it. Verifiers of the public set accept both.",
      "Restart (or redeploy) the server to load the new key set."
    ].join("\n"))
  })).pipe(Command.withDescription(
    "Add a new key (new kid) to the private key set, keeping the old ones; the public JWKS lists all of them."
  ))

/**
 * `keys k8s`: a Kubernetes Secret manifest for the private key file, on stdout.
 *
 * @since 0.1.0
 * @category commands
 */
export const k8s = Command.make(
  "k8s",
  {
    name: Options.text("name").pipe(
      Options.withPseudoName("NAME"),
      // -s/--secret-name: the seed's names of this option (its default name was mcp-server-keys)
      Options.withAlias("s"),
      Options.withAlias("secret-name"),
      Options.withDefault(KubernetesSecret.defaults.name),
      Options.withDescription("The Secret's metadata.name (also -s, --secret-name, as in the seed).")
    ),
    namespace: Options.text("namespace").pipe(
      Options.withPseudoName("NAMESPACE"),
      Options.withAlias("n"),
      Options.withDefault(KubernetesSecret.defaults.namespace),
      Options.withDescription("The Secret's metadata.namespace.")
    ),
    keyFile: Options.text("key-file").pipe(
      Options.withPseudoName("FILE"),
      Options.withDefault(KubernetesSecret.defaultKeyFile),
      Options.withDescription("The private key file to put in the Secret.")
    ),
    dataKey: Options.text("data-key").pipe(
      Options.withPseudoName("KEY"),
      Options.withDefault(KubernetesSecret.defaults.dataKey),
      Options.withDescription("The key under data: (the file name when the Secret is mounted as a volume).")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const manifest = yield* KubernetesSecret.fromKeyFile(o.keyFile, {
        name: o.name,
        namespace: o.namespace,
        dataKey: o.dataKey
      })
      yield* Console.log(manifest.replace(/\n$/, ""))
      // the hints repeat the options given, so following them applies what was printed; `keys
      // clean` is not suggested: it also removes keys this Secret does not hold (the signing pair)
      const quote = (v: string) => (/^[\w./:@=-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`)
      const args = [
        ...(o.name !== KubernetesSecret.defaults.name ? ["--name", quote(o.name)] : []),
        ...(o.namespace !== KubernetesSecret.defaults.namespace ? ["--namespace", quote(o.namespace)] : []),
        ...(o.keyFile !== KubernetesSecret.defaultKeyFile ? ["--key-file", quote(o.keyFile)] : []),
        ...(o.dataKey !== KubernetesSecret.defaults.dataKey ? ["--data-key", quote(o.dataKey)] : [])
      ]
      yield* Console.error(`# Apply: mcp-credentials keys k8s${args.map((a) => ` ${a}`).join("")} | kubectl apply -f -`)
      yield* Console.error(
        `# Once applied, remove the local copy of ${quote(o.keyFile)} (it is the only key in this Secret; other key files in its directory are not)`
      )
    })
).pipe(Command.withDescription(
  "Print a Kubernetes Secret manifest (YAML, base64 data) holding the private key file, for kubectl apply -f -."
))

/**
 * `keys clean`: overwrites the key files with random bytes, then removes them.
 *
 * @since 0.1.0
 * @category commands
 */
export const clean = Command.make("clean", { dir }, (o) =>
  Effect.gen(function*() {
    // each file is reported as soon as it is gone: a later failure still leaves the list of what
    // was removed on stdout, before the error
    let reported = 0
    const removed = yield* KeyFile.clean(o.dir, {
      onRemoved: (r) =>
        Effect.gen(function*() {
          if (reported++ === 0) yield* Console.log("Removed:")
          yield* Console.log(`  ${r.path}${removedNotes[r.how]}`)
          if (r.how === "not-overwritten") {
            yield* Console.error(
              `mcp-credentials: warning: ${r.path} was removed without being overwritten: this run may not write it (permission denied)`
            )
          }
        })
    })
    if (removed.length === 0) yield* Console.log(`No keys found in ${o.dir}`)
  })).pipe(Command.withDescription(
    "Overwrite the key files (encryption and signing) with random bytes, then remove them. " +
      "Not a reliable erase on SSDs, copy-on-write file systems or with snapshots."
  ))

const removedNotes: Readonly<Record<KeyFile.Removed["how"], string>> = {
  overwritten: "",
  // a symbolic link is removed, never followed: say so, the key it points to is still there
  link: " (a symbolic link: the link was removed, the file it points to was kept)",
  "not-overwritten": " (not overwritten: no permission to write it; only removed)"
}

/**
 * `keys`: the group.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("keys", {}, subcommandRequired("mcp-credentials keys", ["generate", "rotate", "k8s", "clean"])).pipe(
  Command.withDescription("Manage the JWKS key files of JWE bearer tokens."),
  Command.withSubcommands([generate, rotate, k8s, clean])
)

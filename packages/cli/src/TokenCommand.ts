/**
 * `mcp-credentials token mint`: development tokens for testing an MCP server's authentication.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { CryptoError, InvalidArgumentError, subcommandRequired } from "./CliError.js"
import * as DevToken from "./DevToken.js"
import * as KeyFile from "./KeyFile.js"

/**
 * `token mint`: prints a signed (and optionally encrypted) token on stdout.
 *
 * @since 0.1.0
 * @category commands
 */
export const mint = Command.make(
  "mint",
  {
    claims: Options.text("claims").pipe(
      Options.withPseudoName("JSON"),Options.withDescription("The claims, a JSON object, e.g. '{\"sub\":\"alice\"}'.")),
    exp: Options.text("exp").pipe(
      Options.withPseudoName("DURATION"),
      Options.optional,
      Options.withDescription("Lifetime, e.g. 90s, 30m, 1h, 7d (default 1h, or the claims' own exp).")
    ),
    iss: Options.text("iss").pipe(
      Options.withPseudoName("ISSUER"),Options.optional, Options.withDescription("The iss claim.")),
    aud: Options.text("aud").pipe(
      Options.withPseudoName("AUDIENCE"),Options.repeated, Options.withDescription("The aud claim (repeat for several).")),
    signKey: Options.text("sign-key").pipe(
      Options.withPseudoName("FILE"),
      Options.optional,
      Options.withDescription("A private JWK or JWKS file to sign with (RS256, ES256, … per key), e.g. from keys generate --use sig.")
    ),
    secretEnv: Options.text("secret-env").pipe(
      Options.withPseudoName("VARIABLE"),
      Options.optional,
      Options.withDescription("The name of an environment variable holding an HMAC secret to sign with (HS256).")
    ),
    encryptKey: Options.text("encrypt-key").pipe(
      Options.withPseudoName("FILE"),
      Options.optional,
      Options.withDescription("A public JWKS file (e.g. mcp-public.json) to encrypt the signed token to (nested JWT in a JWE).")
    )
  },
  (o) =>
    Effect.gen(function*() {
      const claims = yield* DevToken.parseClaims(o.claims)
      const expiresIn = Option.isSome(o.exp) ? yield* DevToken.parseDuration(o.exp.value) : undefined
      if (Option.isSome(o.signKey) === Option.isSome(o.secretEnv)) {
        return yield* new InvalidArgumentError({
          option: "--sign-key",
          reason: "give exactly one of --sign-key <file> and --secret-env <VARIABLE>"
        })
      }
      let signingKey: DevToken.SigningKey
      if (Option.isSome(o.signKey)) {
        const path = o.signKey.value
        signingKey = { _tag: "Jwk", jwk: yield* DevToken.selectSigningKey(path, yield* KeyFile.read(path)) }
      } else {
        const variable = Option.getOrThrow(o.secretEnv)
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(variable)) {
          return yield* new InvalidArgumentError({ option: "--secret-env", reason: "expected a variable name, not a value" })
        }
        // the name is never repeated: a secret passed here by mistake (a base32, hex or base62
        // string is a valid identifier, upper-case too) must not be printed
        const secret = yield* Config.redacted(variable).pipe(
          Effect.mapError(() =>
            new InvalidArgumentError({ option: "--secret-env", reason: "the environment variable given to --secret-env is not set" })
          )
        )
        if (Buffer.byteLength(Redacted.value(secret), "utf8") < 32) {
          yield* Console.error("warning: the HMAC secret in the variable given to --secret-env is shorter than 32 bytes; use a longer random secret")
        }
        signingKey = { _tag: "Secret", secret }
      }
      let encryptionKey = undefined
      if (Option.isSome(o.encryptKey)) {
        const path = o.encryptKey.value
        encryptionKey = yield* DevToken.selectEncryptionKey(path, yield* KeyFile.read(path))
      }
      const token = yield* DevToken.mint({
        claims,
        expiresIn,
        issuer: Option.getOrUndefined(o.iss),
        audience: o.aud.length === 0 ? undefined : o.aud.length === 1 ? o.aud[0] : o.aud,
        signingKey,
        encryptionKey
      }).pipe(
        // a key that cannot be used: say which option gave it (and its file)
        Effect.mapError((e) =>
          e._tag === "CryptoError"
            ? new CryptoError({
              operation: e.operation,
              reason: `${e.reason} (${
                e.operation === "encrypt the token"
                  ? `--encrypt-key ${Option.getOrElse(o.encryptKey, () => "")}`
                  : Option.isSome(o.signKey) ? `--sign-key ${o.signKey.value}` : "--secret-env"
              })`
            })
            : e
        )
      )
      yield* Console.log(token)
    })
).pipe(Command.withDescription(
  "Mint a signed JWT for local testing (optionally encrypted as a JWE to the server's public key)."
))

/**
 * `token`: the group.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("token", {}, subcommandRequired("mcp-credentials token", ["mint"])).pipe(
  Command.withDescription("Development tokens."),
  Command.withSubcommands([mint])
)

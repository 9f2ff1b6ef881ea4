/**
 * `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): instead of a
 * client secret, each request to an authorization server carries a short-lived JWT signed with
 * the client's private key (`iss` = `sub` = the client id, `aud`, a random `jti`, `iat`, `exp` in
 * 60 s). `IntrospectionVerifier` and the vault's `OAuthProvider` authenticate this way when given
 * a `privateKey`.
 *
 * The key is a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), a private JWK as JSON, or a JWKS of one
 * private key (what `mcp-credentials keys generate --use sig` writes; register the public file at
 * the authorization server): RSA (RS256–RS512, PS256–PS512), EC P-256/384/521 or Ed25519. It stays `Redacted`
 * until a request is signed; errors name the option, never the key.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import * as crypto from "node:crypto"

/**
 * The form value of `client_assertion_type`.
 *
 * @since 0.1.0
 * @category constants
 */
export const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/**
 * A parsed private key and the algorithm it signs with.
 *
 * @since 0.1.0
 * @category models
 */
export interface SigningKey {
  readonly key: crypto.KeyObject
  readonly alg: string
  /** The JWK's own `kid`, if it had one. */
  readonly kid: string | undefined
}

/**
 * How a client authenticates, from its options: the `clientAuthMethod` given; else
 * `client_secret_basic` with a secret, `private_key_jwt` with a key, `none` with neither; and
 * `"ambiguous"` with both a secret and a key but no method (which one is meant cannot be told).
 *
 * @since 0.1.0
 * @category constructors
 */
export const clientAuthMethod = <M extends string>(options: {
  readonly clientAuthMethod?: M | undefined
  readonly clientSecret?: unknown
  readonly privateKey?: unknown
}): M | "client_secret_basic" | "private_key_jwt" | "none" | "ambiguous" =>
  options.clientAuthMethod ??
    (options.clientSecret !== undefined
      ? options.privateKey !== undefined ? "ambiguous" : "client_secret_basic"
      : options.privateKey !== undefined
      ? "private_key_jwt"
      : "none")

/**
 * What is wrong with a key: `"key"` (not a usable private key), `"alg"` (the algorithm does not
 * fit the key), `"sign"` (the key cannot sign with it: an RSA key under 2048 bits).
 *
 * @since 0.1.0
 * @category models
 */
export type KeyProblem = "key" | "alg" | "sign"

/**
 * The message for a `KeyProblem` (names what is wrong, never the key).
 *
 * @since 0.1.0
 * @category accessors
 */
export const problemMessage = (problem: KeyProblem): string =>
  problem === "key"
    ? "is not a PKCS#8 PEM or a private JWK (RSA, EC or Ed25519)"
    : problem === "alg"
    ? "does not fit the key"
    : "cannot sign with this key and algorithm (an RSA key needs at least 2048 bits)"

/** The algorithms each key type signs with; the first is the default. */
const algorithmsOf = (key: crypto.KeyObject): ReadonlyArray<string> => {
  switch (key.asymmetricKeyType) {
    case "rsa":
      return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
    // (an "rsa-pss" key cannot be exported to the JWK jose signs with: refused, as "key")
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve
      return curve === "prime256v1" ? ["ES256"] : curve === "secp384r1" ? ["ES384"] : curve === "secp521r1" ? ["ES512"] : []
    }
    case "ed25519":
      return ["EdDSA"]
    default:
      return []
  }
}

/**
 * Parses `privateKey` (synchronously), with `alg`, else a JWK's own `alg`, else the key's default
 * algorithm: RS256 (RSA), ES256/ES384/ES512 (EC), EdDSA (Ed25519). A JWK whose `alg` differs from
 * `alg`, or whose `use` is `enc`, is refused. Errors of `node:crypto` are dropped:
 * they may quote the input.
 *
 * @since 0.1.0
 * @category constructors
 */
export const signingKey = (privateKey: Redacted.Redacted<string>, alg?: string | undefined): SigningKey | "key" | "alg" => {
  const text = Redacted.value(privateKey).trim()
  type Jwk = crypto.JsonWebKey & { readonly kid?: unknown; readonly alg?: unknown; readonly use?: unknown }
  let key: crypto.KeyObject
  let jwk: Jwk | undefined
  try {
    if (text.startsWith("{")) {
      const parsed = JSON.parse(text) as Jwk & { readonly keys?: unknown }
      // a key set of one key: what `mcp-credentials keys generate --use sig` writes
      jwk = Array.isArray(parsed.keys) ? (parsed.keys.length === 1 ? parsed.keys[0] as Jwk : undefined) : parsed
      // an encryption key is not a signing key
      if (jwk === undefined || typeof jwk !== "object" || jwk === null || jwk.use === "enc") return "key"
      key = crypto.createPrivateKey({ key: jwk, format: "jwk" })
    } else key = crypto.createPrivateKey({ key: text, format: "pem" })
  } catch {
    return "key"
  }
  const algorithms = algorithmsOf(key)
  if (algorithms.length === 0) return "key"
  // the JWK's own `alg` (what its public half was registered with) is the default
  const own = typeof jwk?.alg === "string" ? jwk.alg : undefined
  if (own !== undefined && !algorithms.includes(own)) return "key"
  const chosen = alg ?? own ?? algorithms[0]!
  if (!algorithms.includes(chosen) || (own !== undefined && chosen !== own)) return "alg"
  return { key, alg: chosen, kid: typeof jwk?.kid === "string" ? jwk.kid : undefined }
}

/**
 * The certificate headers of an assertion (RFC 7515 `x5t`, `x5t#S256`: the SHA-1 and SHA-256
 * thumbprints of the certificate's DER), which Entra ID requires of a certificate credential; or
 * `"certificate"` when `certificatePem` is not a certificate, `"mismatch"` when it does not
 * certify `key`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const thumbprints = (
  certificatePem: string,
  key: SigningKey
): { readonly x5t: string; readonly "x5t#S256": string } | "certificate" | "mismatch" => {
  let certificate: crypto.X509Certificate
  try {
    certificate = new crypto.X509Certificate(certificatePem)
  } catch {
    return "certificate"
  }
  if (!certificate.checkPrivateKey(key.key)) return "mismatch"
  return {
    x5t: crypto.createHash("sha1").update(certificate.raw).digest("base64url"),
    "x5t#S256": crypto.createHash("sha256").update(certificate.raw).digest("base64url")
  }
}

/**
 * A fresh assertion: `iss` = `sub` = `clientId`, `aud`, a random `jti`, `iat`, `exp` in 60 s;
 * `kid` in the header when given, and the certificate's thumbprints (`thumbprints`) when given.
 *
 * @since 0.1.0
 * @category constructors
 */
export const sign = (
  key: SigningKey,
  options: {
    readonly clientId: string
    readonly audience: string
    readonly kid?: string | undefined
    readonly thumbprints?: { readonly x5t: string; readonly "x5t#S256": string } | undefined
  }
): Promise<string> =>
  new jose.SignJWT({})
    .setProtectedHeader({
      alg: key.alg,
      ...(options.kid !== undefined ? { kid: options.kid } : {}),
      ...(options.thumbprints ?? {})
    })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.audience)
    .setJti(crypto.randomBytes(16).toString("base64url"))
    .setIssuedAt()
    .setExpirationTime("60s")
    .sign(key.key)

/**
 * Parses `privateKey` and signs a throwaway assertion with it, so that what only signing tells
 * (an RSA key under 2048 bits) is found when the client is configured, not on its first request.
 *
 * @since 0.1.0
 * @category constructors
 */
export const check = (
  privateKey: Redacted.Redacted<string>,
  alg?: string | undefined
): Effect.Effect<SigningKey, KeyProblem> =>
  Effect.suspend(() => {
    const key = signingKey(privateKey, alg)
    if (typeof key === "string") return Effect.fail(key)
    return Effect.as(
      Effect.tryPromise({ try: () => sign(key, { clientId: "check", audience: "https://example.invalid/token" }), catch: () => "sign" as const }),
      key
    )
  })

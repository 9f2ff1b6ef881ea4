/**
 * The tagged errors of credential resolution. A message names the variable, header or field that
 * is wrong and never its value, so every one of them is safe to show to a client or to log.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * Marks every credential error, so `isCredentialError` can tell them apart from other failures.
 *
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@mcp-credentials/core/CredentialError")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * A static credential has no fields, or an OAuth credential has no access token.
 * `variables` lists the environment variables that would provide it.
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingCredentialError extends Schema.TaggedError<MissingCredentialError>(
  "@mcp-credentials/core/MissingCredentialError"
)("MissingCredentialError", {
  kind: Schema.Literal("static", "oauth"),
  variables: Schema.Array(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    if (this.kind === "static") {
      const [fields = "FIELDS", field = "FIELD_<name>"] = this.variables
      return `No static credentials found. Set ${fields} (JSON object) or individual ${field} env vars.`
    }
    return `No OAuth access token found. Set ${this.variables.join(" or ")}.`
  }
}

/**
 * An environment variable holds a value that cannot be used (bad JSON, a bad date, a field that
 * is not a string). `reason` says what is wrong without quoting the value.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentialError extends Schema.TaggedError<InvalidCredentialError>(
  "@mcp-credentials/core/InvalidCredentialError"
)("InvalidCredentialError", {
  variable: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid ${this.variable}: ${this.reason}`
  }
}

/**
 * The request carries none of the credential headers that the credential needs, or there is no
 * HTTP request at all (stdio).
 *
 * @since 0.1.0
 * @category errors
 */
export class MissingCredentialHeaderError extends Schema.TaggedError<MissingCredentialHeaderError>(
  "@mcp-credentials/core/MissingCredentialHeaderError"
)("MissingCredentialHeaderError", {
  headers: Schema.Array(Schema.String)
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Missing credential headers: ${
      this.headers.join(", ")
    }. Connect your account in the gateway to inject credentials.`
  }
}

/**
 * A credential header is present but unusable (bad JSON, not an object, a bad date, a field that
 * is not a string).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidCredentialHeaderError extends Schema.TaggedError<InvalidCredentialHeaderError>(
  "@mcp-credentials/core/InvalidCredentialHeaderError"
)("InvalidCredentialHeaderError", {
  header: Schema.String,
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Invalid ${this.header} header: ${this.reason}`
  }
}

/**
 * A gateway secret is configured and the request's credential headers do not carry a valid
 * gateway proof, so they may come from anyone who can reach the server.
 *
 * @since 0.1.0
 * @category errors
 */
export class UntrustedGatewayError extends Schema.TaggedError<UntrustedGatewayError>(
  "@mcp-credentials/core/UntrustedGatewayError"
)("UntrustedGatewayError", {
  reason: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Credential headers rejected: ${this.reason}`
  }
}

/**
 * The code asked for a credential outside a tool call that has one (no middleware installed, a
 * tool that did not declare the credential, or code that outlived its tool call).
 *
 * @since 0.1.0
 * @category errors
 */
export class NoCredentialInScopeError extends Schema.TaggedError<NoCredentialInScopeError>(
  "@mcp-credentials/core/NoCredentialInScopeError"
)("NoCredentialInScopeError", {
  credential: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    const which = this.credential === "default" ? "No credential" : `No credential '${this.credential}'`
    return `${which} has been resolved for this request. Install the mcp-credentials middleware on your MCP server ` +
      `(McpCredentials.install from @mcp-credentials/server) and declare the credential on the tool.`
  }
}

/**
 * A tool declared a named credential for which no backend is configured.
 *
 * @since 0.1.0
 * @category errors
 */
export class CredentialNotFoundError extends Schema.TaggedError<CredentialNotFoundError>(
  "@mcp-credentials/core/CredentialNotFoundError"
)("CredentialNotFoundError", {
  credential: Schema.String
}) {
  readonly [TypeId]: TypeId = TypeId
  override get message(): string {
    return `Credential not found: '${this.credential}'`
  }
}

/**
 * Every error that credential resolution can fail with.
 *
 * @since 0.1.0
 * @category errors
 */
export type CredentialError =
  | MissingCredentialError
  | InvalidCredentialError
  | MissingCredentialHeaderError
  | InvalidCredentialHeaderError
  | UntrustedGatewayError
  | NoCredentialInScopeError
  | CredentialNotFoundError

/**
 * Tells whether a value is one of this module's errors.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isCredentialError = (u: unknown): u is CredentialError => Predicate.hasProperty(u, TypeId)

/**
 * Option helpers whose errors name the option, which `@effect/cli`'s `Options.choice` does not.
 */
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as ValidationError from "@effect/cli/ValidationError"
import * as Effect from "effect/Effect"

/**
 * `--name a|b|c`: one of `values`; anything else is a parse error `Invalid --name: use one of a, b, c`.
 * @internal
 */
export const choice = <const A extends string>(name: string, values: ReadonlyArray<A>): Options.Options<A> =>
  Options.text(name).pipe(
    Options.withPseudoName(values.join("|")),
    Options.mapEffect((value) =>
      (values as ReadonlyArray<string>).includes(value)
        ? Effect.succeed(value as A)
        : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`Invalid --${name}: use one of ${values.join(", ")}`)))
    )
  )

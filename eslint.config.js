// ESLint: correctness rules of typescript-eslint, no import cycles, and the rule engine
// reached only through its public face (src/detector/index.ts). Style is not linted.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "test-artifacts/", "sensor/", "src/ui/static/", "**/*.js", "**/*.mjs"] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      // .ts files are modules to follow, and `./x.js` imports resolve to the `x.ts` beside them
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.test.json" })],
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // A test rethrows with the failing case in the message; the original stays in its output.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: { "preserve-caught-error": "off" },
  },
  {
    // No double assertion (`x as unknown as T`) in product code: it silences the type checker
    // entirely; an erased type, a variance-correct signature or a type guard says what is meant.
    files: ["src/**/*.ts", "outputs/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: ":matches(TSAsExpression, TSTypeAssertion) > :matches(TSAsExpression, TSTypeAssertion).expression",
          message: "no double type assertion: type the value (an erased type, a type guard) instead",
        },
      ],
    },
  },
  {
    // Product code outside the rule engine goes through its face; tests and benches may reach in.
    files: ["src/**/*.ts", "outputs/**/*.ts"],
    ignores: ["src/detector/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "(^|/)detector/(?!index\\.js$|sources/syscall/)",
              message: "import the rule engine through src/detector/index.ts",
            },
          ],
        },
      ],
    },
  },
);

// ESLint flat config: typescript-eslint's type-aware rules over src, test, bench and scripts.
// Why type-aware: in a gateway an unhandled rejection ends the process, and only the type checker knows
// which expressions are promises (no-floating-promises, no-misused-promises, await-thenable), which switches
// over closed unions miss a member (switch-exhaustiveness-check), and which `return` in a try escapes its
// catch (return-await). Formatting is Prettier's job (`npm run format:check`), so no style rules here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Generated or vendored output, data, and the model folder are not source.
    ignores: ['node_modules/', 'dist/', 'data/', 'models/', 'bench/results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // tsconfig.json covers src, test, bench and scripts; vitest.config.ts is not in it and gets
        // the default project.
        projectService: { allowDefaultProject: ['vitest.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The correctness rules the project depends on, stated explicitly (most are in the preset already).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      // `return promise` inside try/catch skips the catch; require `return await` there (and only there).
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],

      // Off: async functions without `await` are deliberate here. They satisfy Promise-returning contracts
      // (fastify routes and hooks, SDK request handlers, fixture servers) and turn a synchronous throw into a
      // rejection, which those callers expect; the rule would have us rewrite 25 correct handlers.
      '@typescript-eslint/require-await': 'off',

      // Rejecting with an AbortSignal's `reason` (typed `any`) is the platform's own idiom (timers/promises
      // does it); literals and other non-errors are still reported.
      '@typescript-eslint/prefer-promise-reject-errors': [
        'error',
        { allowThrowingAny: true, allowThrowingUnknown: true },
      ],

      // `_name` marks a binding kept on purpose; `{ drop: _x, ...rest }` is how a key is omitted.
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],

      // `cond ? a() : b()` and `x && f()` as statements are calls, not the forgotten comparisons this rule is for.
      '@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Off in tests: vitest's asymmetric matchers (`expect.any(Number)`, `expect.objectContaining(...)`) and
      // `Response.json()` are typed `any`; assigning them is the idiom, and the assertions check the values.
      '@typescript-eslint/no-unsafe-assignment': 'off',
    },
  },
  {
    files: ['scripts/model/readme.ts'],
    rules: {
      // Off here only: a README template that prints the build report's `Record<string, unknown>` settings and
      // stats (numbers and strings written by build.ts); typing each of the 30 fields would add nothing.
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Plain JS config files: no type information to check against.
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

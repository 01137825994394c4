// ESLint (flat config) with typescript-eslint's type-aware rules: the ones
// that matter in a long-running async daemon (a floating promise that rejects
// is an unhandled rejection, which ends a Node 20 process), a switch over a
// union that misses a member, and a small set of correctness rules. Style is
// Prettier's business (.prettierrc.json), not the linter's.
// Run: `npm run lint` (`npx eslint .`); see docs/development.md.
import { defineConfig } from 'eslint/config';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default defineConfig(
  {
    ignores: ['**/node_modules/**', '**/dist/**', '**/build/**', 'packages/*/src/gen/**', '.mayu-test/**'],
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },

  // Every file, TypeScript and JavaScript: correctness rules that need no types.
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-fallthrough': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      'prefer-const': 'error',
    },
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs' },
  },

  // TypeScript: the type checker's view, from each package's tsconfig.json.
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // tsc checks these (and knows the types better than the core rules).
      'no-undef': 'off',
      'no-redeclare': 'off',
      'no-dupe-class-members': 'off',
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],

      // Promises: a floating promise that can reject crashes the daemon;
      // `void p` marks an intended fire-and-forget (whose rejection is handled).
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      '@typescript-eslint/no-misused-promises': 'error',
      // Promise.all over sinks that return `void | Promise<void>` is by design.
      '@typescript-eslint/await-thenable': ['error', { allowMixedPromiseArrays: true }],
      // `return await` inside try, so the catch/finally sees the rejection.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/require-await': 'off',
      'require-await': 'off',

      // A switch over a union or enum names every member: a `default` does not
      // count as covering them (it may stay, for values off the wire).
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false, allowDefaultCaseForExhaustiveSwitch: true }],

      '@typescript-eslint/no-unnecessary-type-assertion': 'error',
      // The two places that need `any` say why, in a disable comment.
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
);

// The layering rule lives here so nobody has to remember it (VS Code's layers, enforced the same way):
//   native/   plain Node engine: never imports main/, renderer/, electron or react.
//   renderer/ UI: reaches the engine only through type-only imports of native/api.
//   main/     Electron glue: may import native/, never renderer/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

const uiPackages = ['react', 'react-dom', 'react/*', 'recharts', 'zustand', '@dnd-kit/*'];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'release/', 'test/artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['native/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/main/**', '**/main', '**/renderer/**', '**/renderer'],
              message: 'native/ is the engine: it never imports main/ or renderer/.',
            },
            {
              group: ['electron', ...uiPackages],
              message: 'native/ is plain Node: no Electron or UI packages.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/native/api', '**/native/api/*'],
              allowTypeImports: true,
              message: 'renderer/ may import only types from native/api.',
            },
            {
              group: [
                '**/native/*',
                '!**/native/api',
                '!**/native/api/*',
                '!**/native/common',
                '!**/native/common/*',
              ],
              message:
                'renderer/ reaches the engine only through the typed API (type imports of native/api) and the environment-free lists of native/common.',
            },
            {
              group: ['**/main/**', '**/main', 'electron'],
              message: 'renderer/ cannot tell which host it runs in: no main/ or electron imports.',
            },
            { group: ['node:*'], message: 'renderer/ runs in a browser: no Node built-ins.' },
          ],
        },
      ],
    },
  },
  {
    files: ['main/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/renderer/**', '**/renderer', ...uiPackages],
              message: 'main/ is glue: it never imports the UI.',
            },
          ],
        },
      ],
    },
  },
);

// The layering rule lives here so nobody has to remember it (VS Code's layers, enforced the same way):
//   native/   plain Node engine: never imports main/, renderer/, electron or react; inside it, imports
//             run down NATIVE_LAYERS only (local/native-layers, scripts/eslint/nativeLayers.mjs).
//   renderer/ UI: reaches the engine only through type-only imports of native/api, and may import
//             native/common (environment-free lists, defaults, formatting) at run time.
//   main/     Electron glue: may import native/, never renderer/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import { nativeLayers } from './scripts/eslint/nativeLayers.mjs';

const uiPackages = ['react', 'react-dom', 'react/*', 'recharts', 'zustand', '@dnd-kit/*'];

// native/'s folders from the bottom up. A folder imports only folders on lower rows; folders on one
// row are independent of each other. Root files count as folders of their name (cli.ts, version.ts).
// A new folder must be given a row here before anything imports it.
const NATIVE_LAYERS = [
  ['common'], // names, defaults, formatting, run events, request table: zod only, no Node (the renderer imports it)
  ['util', 'version'], // small Node helpers with no domain knowledge
  ['protocol', 'model'], // wire formats; models as data, shapes and costs
  ['data', 'planner', 'trust', 'discovery', 'inventory', 'backend'],
  ['pipeline'], // a stage's training runtime
  ['agent', 'coordinator'], // the two ends of a cluster: the daemon, and who drives it
  ['runs'], // runs as records, on disk and for the API
  ['api'], // the app's contract and its server side
  ['web'], // browser mode's server
  ['cli'], // the commands (cli.ts and native/cli/)
];

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
    plugins: { local: { rules: { 'native-layers': nativeLayers } } },
    rules: {
      'local/native-layers': ['error', { layers: NATIVE_LAYERS, pure: { common: ['zod'] } }],
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
    files: ['native/common/**/*.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', 'module', '__dirname', '__filename', 'global'].map(
          (name) => ({ name, message: 'native/common is environment-free: no Node globals.' }),
        ),
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

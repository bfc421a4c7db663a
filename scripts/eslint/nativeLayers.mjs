// ESLint rule `local/native-layers`: imports inside native/ run down the layers only (the manner of
// VS Code's code-layering and code-import-patterns rules). Each import is resolved to the native/
// folder it names, so `../planner/x.js` and `../../planner/x.js` are the same edge; type-only imports
// count too, since a type that runs back up is the same coupling, only erased at run time.
import path from 'node:path';

const specifiers = (node) => {
  switch (node.type) {
    case 'ImportDeclaration':
    case 'ExportAllDeclaration':
    case 'ExportNamedDeclaration':
    case 'ImportExpression':
      return node.source?.type === 'Literal' ? node.source : null;
    case 'TSImportType': {
      const lit = node.argument?.literal ?? node.parameter?.literal;
      return lit?.type === 'Literal' ? lit : null;
    }
    case 'TSExternalModuleReference':
      return node.expression?.type === 'Literal' ? node.expression : null;
    default:
      return null;
  }
};

/** The top-level entry of native/ a path lies in ('planner' for native/planner/x.ts, 'cli' for native/cli.ts). */
function topEntry(nativeDir, file) {
  const rel = path.relative(nativeDir, file);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const [first, ...rest] = rel.split(path.sep);
  return rest.length ? first : first.replace(/\.[cm]?[jt]sx?$/, '');
}

export const nativeLayers = {
  meta: {
    type: 'problem',
    docs: { description: 'native/ imports run down the layer table only' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
          pure: {
            type: 'object',
            additionalProperties: { type: 'array', items: { type: 'string' } },
          },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        'native/{{from}} (layer {{fromLayer}}) may not import native/{{to}} (layer {{toLayer}}): imports run down the layers only (see eslint.config.js and ARCHITECTURE.md).',
      sideways:
        'native/{{from}} may not import native/{{to}}: folders on one layer are independent (see eslint.config.js and ARCHITECTURE.md).',
      unknown:
        'native/{{name}} is not in the layer table in eslint.config.js: give it a layer before importing it or from it.',
      impure:
        'native/{{from}} is environment-free (the renderer imports it at run time): it may import only {{allowed}} and itself, not "{{spec}}".',
    },
  },
  create(context) {
    const { layers, pure = {} } = context.options[0];
    const layerOf = new Map(layers.flatMap((names, i) => names.map((n) => [n, i])));
    const nativeDir = path.join(context.cwd, 'native');
    const file = context.filename;
    const from = topEntry(nativeDir, file);
    if (from === null) return {};
    const check = (node) => {
      const lit = specifiers(node);
      if (!lit || typeof lit.value !== 'string') return;
      const spec = lit.value;
      if (pure[from]) {
        const inside =
          spec.startsWith('.') &&
          topEntry(nativeDir, path.resolve(path.dirname(file), spec)) === from;
        if (!inside && !pure[from].includes(spec))
          return context.report({
            node: lit,
            messageId: 'impure',
            data: { from, spec, allowed: pure[from].join(', ') || 'nothing' },
          });
      }
      if (!spec.startsWith('.')) return;
      const to = topEntry(nativeDir, path.resolve(path.dirname(file), spec));
      if (to === null || to === from) return;
      for (const name of [from, to])
        if (!layerOf.has(name))
          return context.report({ node: lit, messageId: 'unknown', data: { name } });
      const fromLayer = layerOf.get(from);
      const toLayer = layerOf.get(to);
      if (toLayer < fromLayer) return;
      context.report({
        node: lit,
        messageId: toLayer === fromLayer ? 'sideways' : 'upward',
        data: { from, to, fromLayer, toLayer },
      });
    };
    return {
      ImportDeclaration: check,
      ExportAllDeclaration: check,
      ExportNamedDeclaration: check,
      ImportExpression: check,
      TSImportType: check,
      TSExternalModuleReference: check,
    };
  },
};

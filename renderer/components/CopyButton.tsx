import { useState } from 'react';

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [done, setDone] = useState<'copied' | 'failed' | null>(null);
  return (
    <button
      type="button"
      className="secondary"
      aria-label={label}
      onClick={() =>
        navigator.clipboard
          .writeText(text)
          .then(() => setDone('copied'))
          .catch(() => setDone('failed'))
      }
    >
      {done === 'copied' ? 'Copied' : done === 'failed' ? 'Select and copy it' : 'Copy'}
    </button>
  );
}
